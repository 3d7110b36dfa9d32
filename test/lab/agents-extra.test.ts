// The lab's lossy ISPs and its HTTP and DNS agents, without nft-mwan: what health-probe and loss tests will build on.
import { expect, it } from 'vitest';
import { DNS_ANSWER_A, endpoint, startDnsServer, startHttpServer } from '../../lab/agents.js';
import { withLab } from '../../lab/netns.js';
import { buildMultiWan, LAB_NET, type MultiWan, type WanIndex } from '../../lab/topology.js';
import { describeLab } from '../../lab/vitest.js';

const SERVER = LAB_NET.server.addrs[0];

/** Pings from the gateway bound to wanK, so every echo and reply crosses ISP k's forward path. */
async function pingMany(topo: MultiWan, k: WanIndex, count: number): Promise<{ sent: number; received: number }> {
  const args = ['-n', '-q', '-c', String(count), '-i', '0.01', '-W', '1', '-I', `wan${k}`, SERVER];
  // ping exits 1 when any echo went unanswered: that is the point here, not a failure.
  const r = await topo.lab.exec('gw', 'ping', args, { reject: false, timeoutMs: 30_000 });
  const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
  if (!m) throw new Error(`no ping summary in:\n${r.stdout}\n${r.stderr}`);
  return { sent: Number(m[1]), received: Number(m[2]) };
}

/** Whether `lost` of `n` trials is within 5 standard deviations of a binomial with probability p. */
function binomialPlausible(lost: number, n: number, p: number): boolean {
  return Math.abs(lost - n * p) <= 5 * Math.sqrt(n * p * (1 - p));
}

/** One GET with node:http, optionally from a given source address; prints {status, body}. */
const HTTP_GET = `import http from 'node:http';
const [host, port, path, localAddress] = process.argv.slice(1);
const req = http.get({ host, port: Number(port), path, localAddress: localAddress || undefined, agent: false, timeout: 2000 }, (res) => {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (chunk) => (body += chunk));
  res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, body })));
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', (error) => { console.error(error.message); process.exit(1); });
`;

/** Sends one UDP datagram (hex) and prints the reply as hex, or "timeout". */
const UDP_ASK = `import dgram from 'node:dgram';
const [host, port, hex, wait] = process.argv.slice(1);
const socket = dgram.createSocket('udp4');
setTimeout(() => { console.log('timeout'); process.exit(0); }, Number(wait));
socket.on('message', (reply) => { console.log(reply.toString('hex')); process.exit(0); });
socket.send(Buffer.from(hex, 'hex'), Number(port), host);
`;

async function httpGet(topo: MultiWan, ns: string, port: number, path: string, source = ''): Promise<{ status: number; body: string }> {
  const r = await topo.lab.exec(ns, process.execPath, ['--input-type=module', '-e', HTTP_GET, SERVER, String(port), path, source]);
  return JSON.parse(r.stdout) as { status: number; body: string };
}

async function udpAsk(topo: MultiWan, port: number, packet: Buffer, waitMs = 2_000): Promise<Buffer | undefined> {
  const args = ['--input-type=module', '-e', UDP_ASK, SERVER, String(port), packet.toString('hex'), String(waitMs)];
  const out = (await topo.lab.exec('srv', process.execPath, args)).stdout.trim();
  return out === 'timeout' ? undefined : Buffer.from(out, 'hex');
}

/** A standard query with RD set for one name. */
function dnsQuery(id: number, name: string, qtype: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2);
  header.writeUInt16BE(1, 4);
  const labels = name.split('.').flatMap((l) => [Buffer.from([l.length]), Buffer.from(l, 'ascii')]);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(qtype, 0);
  tail.writeUInt16BE(1, 2);
  return Buffer.concat([header, ...labels, Buffer.from([0]), tail]);
}

describeLab('lab extras: lossy ISPs, HTTP and DNS agents', () => {
  it('makes ISP 2 drop a share of what it forwards in both directions, and stops when set back to 0', () =>
    withLab(async (lab) => {
      const topo = await buildMultiWan(lab, { wans: 2 });
      await topo.setLoss(2, 30);
      await topo.setLoss(2, 30);
      expect(topo.loss(2)).toBe(30);
      expect(topo.loss(1)).toBe(0);

      const passedBefore = (await topo.ispCounters(2)).passed.packets;
      const lossy = await pingMany(topo, 2, 200);
      // Loss runs before ispfilter, so "passed" counts the echoes that survived the way up.
      const passed = (await topo.ispCounters(2)).passed.packets - passedBefore;
      expect(lossy.sent).toBe(200);
      expect(binomialPlausible(lossy.sent - passed, lossy.sent, 0.3), `${passed} of 200 echoes passed ISP 2`).toBe(true);
      expect(binomialPlausible(passed - lossy.received, passed, 0.3), `${lossy.received} of ${passed} replies came back`).toBe(true);
      // Both ways at 30%: 1 - 0.7² = 51% of round trips fail.
      expect(binomialPlausible(lossy.sent - lossy.received, lossy.sent, 0.51), `${lossy.received} of 200 answered`).toBe(true);

      expect(await pingMany(topo, 1, 50)).toEqual({ sent: 50, received: 50 });
      // A new rate replaces the old one rather than adding to it.
      await topo.setLoss(2, 100);
      expect((await pingMany(topo, 2, 20)).received).toBe(0);
      await topo.setLoss(2, 0);
      expect(topo.loss(2)).toBe(0);
      expect(await pingMany(topo, 2, 200)).toEqual({ sent: 200, received: 200 });
      await expect(topo.setLoss(2, 12.5)).rejects.toThrow(/whole percentage/);
    }));

  it('answers HTTP with the configured status, /status/NNN with NNN, and tells who asked', () =>
    withLab(async (lab) => {
      const topo = await buildMultiWan(lab, { wans: 2 });
      await startHttpServer(lab, 'srv', [endpoint(SERVER, 80)]);
      await startHttpServer(lab, 'srv', [endpoint(SERVER, 8080)], { status: 503 });

      expect(await httpGet(topo, 'srv', 80, '/')).toEqual({ status: 200, body: `200 peer ${SERVER} local ${SERVER}\n` });
      expect((await httpGet(topo, 'srv', 80, '/status/503')).status).toBe(503);
      expect((await httpGet(topo, 'srv', 8080, '/health')).status).toBe(503);
      expect((await httpGet(topo, 'srv', 8080, '/status/204')).status).toBe(204);
      // Through the lab: from the gateway's wan1 address, so out through ISP 1.
      const viaIsp = await httpGet(topo, 'gw', 80, '/', LAB_NET.wan[1].addr);
      expect(viaIsp).toEqual({ status: 200, body: `200 peer ${LAB_NET.wan[1].addr} local ${SERVER}\n` });
    }));

  it('answers DNS A queries with 192.0.2.99, other types with an empty NOERROR, and ignores garbage', () =>
    withLab(async (lab) => {
      const topo = await buildMultiWan(lab, { wans: 2 });
      await startDnsServer(lab, 'srv', [endpoint(SERVER, 53)]);

      const query = dnsQuery(0xbeef, 'probe.example.com', 1);
      const reply = await udpAsk(topo, 53, query);
      if (!reply) throw new Error('no DNS reply to an A query');
      expect(reply.readUInt16BE(0)).toBe(0xbeef);
      // QR, RD copied, RA, RCODE 0; one question, one answer.
      expect(reply.readUInt16BE(2)).toBe(0x8180);
      expect([4, 6, 8, 10].map((o) => reply.readUInt16BE(o))).toEqual([1, 1, 0, 0]);
      expect(reply.subarray(12, query.length)).toEqual(query.subarray(12));
      const answer = reply.subarray(query.length);
      expect(answer.readUInt16BE(0)).toBe(0xc00c);
      expect([answer.readUInt16BE(2), answer.readUInt16BE(4), answer.readUInt32BE(6), answer.readUInt16BE(10)]).toEqual([1, 1, 60, 4]);
      expect([...answer.subarray(12)].join('.')).toBe(DNS_ANSWER_A);

      const aaaa = await udpAsk(topo, 53, dnsQuery(7, 'probe.example.com', 28));
      if (!aaaa) throw new Error('no DNS reply to an AAAA query');
      expect(aaaa.readUInt16BE(0)).toBe(7);
      expect(aaaa.readUInt16BE(2) & 0x000f).toBe(0);
      expect(aaaa.readUInt16BE(6)).toBe(0);

      expect(await udpAsk(topo, 53, Buffer.from('0102ff', 'hex'), 500)).toBeUndefined();
      expect(await udpAsk(topo, 53, query)).toBeDefined();
    }));
});
