// Dual stack in the lab: IPv6 balanced and pinned next to IPv4, NAT per family (masquerade, none, NPTv6),
// failover for both, IPv6 named sets, the router's own IPv6 connections, and IPv6 tracked on its own (track6).
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { endpoint, runTcpClient, startTcpServer } from '../../lab/agents.js';
import { Lab } from '../../lab/netns.js';
import { buildMultiWan, LAB_NET, type MultiWan } from '../../lab/topology.js';
import { describeLab } from '../../lab/vitest.js';
import { cli, cliOk, configFile } from './helpers.js';
import { startDaemon } from './daemon-helpers.js';

const W1 = LAB_NET.wan[1];
const W2 = LAB_NET.wan[2];
const [SRV1] = LAB_NET.server.addrs as [string, string];
const [SRV6A, SRV6B] = LAB_NET.server.addrs6 as [string, string];
const LAN = LAB_NET.lan;

const dual = (
  wan2: Record<string, unknown> = {},
): { interfaces: Record<string, unknown>; policies: Record<string, unknown>; rules: Record<string, unknown>[] } => ({
  interfaces: {
    wan1: { device: 'wan1', family: 'both', gateway: 'auto', gateway6: 'auto', track: { targets: [SRV1], interval: 0.2, timeout: 0.2 } },
    wan2: { device: 'wan2', family: 'both', gateway: 'auto', gateway6: 'auto', track: { targets: [SRV1], interval: 0.2, timeout: 0.2 }, ...wan2 },
  },
  policies: {
    balanced: { members: [{ interface: 'wan1' }, { interface: 'wan2' }] },
    wan2_only: { members: [{ interface: 'wan2' }] },
  },
  rules: [
    { name: 'pin6', destIp: [`${SRV6B}/128`], proto: 'tcp', destPort: [5001], policy: 'wan2_only' },
    { name: 'default', policy: 'balanced' },
  ],
});

describeLab('dual stack', () => {
  const lab = new Lab();
  let net: MultiWan;
  let last: string | null = null;
  const flows = async (target: string, count = 30, ns: string = LAN.ns) => {
    const r = await runTcpClient(lab, ns, { target: endpoint(target, 5001), count, concurrency: 10, timeoutMs: 3_000 });
    return { ok: r.ok, wan1: (r.peers[W1.addr6] ?? 0) + (r.peers[W1.addr] ?? 0), wan2: (r.peers[W2.addr6] ?? 0) + (r.peers[W2.addr] ?? 0), peers: r.peers };
  };

  beforeAll(async () => {
    net = await buildMultiWan(lab, { wans: 2, ipv6: true });
    await startTcpServer(lab, 'srv', [endpoint(SRV1, 5001), endpoint(SRV6A, 5001), endpoint(SRV6B, 5001)]);
  });
  afterEach(async () => {
    await net.setUpstream(2, 'up');
    if (last) await cli(lab, 'gw', 'stop', '--config', last);
    last = null;
  });
  afterAll(async () => {
    await lab.teardown();
  });

  it("balances IPv6 and IPv4 over both WANs, masquerading each family to the WAN's own address; pins by IPv6 prefix", async () => {
    last = configFile(dual());
    await cliOk(lab, 'gw', 'apply', '--config', last);
    const v6 = await flows(SRV6A);
    expect(v6.ok).toBe(30);
    expect(v6.wan1).toBeGreaterThan(0);
    expect(v6.wan2).toBeGreaterThan(0);
    expect(v6.wan1 + v6.wan2).toBe(30);
    const v4 = await flows(SRV1);
    expect(v4).toMatchObject({ ok: 30 });
    expect(v4.wan1 + v4.wan2).toBe(30);
    expect(await flows(SRV6B, 10)).toMatchObject({ ok: 10, wan2: 10 });
    // IPv6 ip rules and routes exist and are nft-mwan's.
    expect((await lab.ip('gw', ['-6', 'rule', 'show'])).stdout).toMatch(/fwmark 0x200\/0x3f00 lookup 1002 proto 77/);
    expect((await lab.ip('gw', ['-6', 'route', 'show', 'table', '1002'])).stdout).toMatch(/default via 2001:db8:2::1 dev wan2 proto 77/);
    // Applying again changes nothing (IPv6 routes read back as planned).
    const again = await cli(lab, 'gw', 'apply', '--config', last);
    expect(again.stderr).toMatch(/already up to date/);
  });

  it("nat6 none leaves IPv6 sources alone: the ISP, which only forwards the gateway's own address, drops them", async () => {
    last = configFile(dual({ nat6: 'none' }));
    await cliOk(lab, 'gw', 'apply', '--config', last);
    const before = await net.ispDrops(2);
    const r = await flows(SRV6B, 5);
    expect(r.ok).toBe(0);
    expect(await net.ispDrops(2)).toBeGreaterThan(before);
    // IPv4 through the same WAN is still masqueraded.
    expect((await flows(SRV1, 20)).ok).toBe(20);
  });

  it('nat none (IPv4) leaves IPv4 sources alone and the ISP drops them; IPv6 through the same WAN is still masqueraded', async () => {
    const config = dual({ nat: 'none' });
    // Pinned to wan2, so every flow meets the unmasqueraded WAN. Numbered icmp rules of one family must also
    // read back as applied (nft lists `meta nfproto ipv4 meta l4proto 1` without the nfproto).
    config.policies.wan1_only = { members: [{ interface: 'wan1' }] };
    config.rules = [
      { name: 'lan2', srcIp: [LAB_NET.lan2.prefix], policy: 'wan1_only' },
      { name: 'pin4', destIp: [`${SRV1}/32`], proto: 'tcp', destPort: [5001], policy: 'wan2_only' },
      { name: 'icmp4', proto: 1, family: 'ipv4', policy: 'balanced' },
      { name: 'icmp6', proto: 58, family: 'ipv6', policy: 'balanced' },
      ...config.rules,
    ];
    last = configFile(config);
    await cliOk(lab, 'gw', 'apply', '--config', last);
    const before = await net.ispDrops(2);
    expect((await flows(SRV1, 5)).ok).toBe(0);
    expect(await net.ispDrops(2)).toBeGreaterThan(before);
    expect(await flows(SRV6B, 5)).toMatchObject({ ok: 5, wan2: 5, peers: { [W2.addr6]: 5 } });
    // wan1 still masquerades IPv4 (the other LAN is pinned to it).
    expect(await flows(SRV1, 5, LAB_NET.lan2.ns)).toMatchObject({ ok: 5, peers: { [W1.addr]: 5 } });
  });

  it("nat6 npt maps the LAN prefix into the WAN's routed prefix: the server sees the LAN host's suffix under npt6Prefix", async () => {
    const NPT = '2001:db8:22::/64';
    const isp = LAB_NET.wan[2];
    // ISP 2 routes the prefix to the gateway and forwards it from the customer; the server routes it back via ISP 2.
    await lab.ip(isp.ns, ['-6', 'route', 'replace', NPT, 'via', isp.addr6, 'dev', 'cust']);
    lab.defer(`isp2: route ${NPT}`, () => lab.ip(isp.ns, ['-6', 'route', 'del', NPT], { reject: false }));
    await lab.ip(LAB_NET.server.ns, ['-6', 'route', 'replace', NPT, 'via', isp.upstream.isp6, 'dev', isp.upstream.srvDev]);
    lab.defer(`srv: route ${NPT}`, () => lab.ip(LAB_NET.server.ns, ['-6', 'route', 'del', NPT], { reject: false }));
    const inserted = await lab.exec(isp.ns, 'nft', [
      '--echo',
      '--handle',
      'insert',
      'rule',
      'inet',
      'ispfilter',
      'forward_filter',
      'iifname',
      'cust',
      'ip6',
      'saddr',
      NPT,
      'accept',
    ]);
    const handle = /# handle (\d+)/.exec(inserted.stdout)?.[1];
    expect(handle, inserted.stdout).toBeDefined();
    lab.defer(`isp2: forward ${NPT}`, () =>
      lab.exec(isp.ns, 'nft', ['delete', 'rule', 'inet', 'ispfilter', 'forward_filter', 'handle', handle as string], { reject: false }),
    );
    last = configFile(dual({ nat6: 'npt', npt6Prefix: NPT }));
    await cliOk(lab, 'gw', 'apply', '--config', last);
    // LAN host 2001:db8:10::2 keeps its host part: 2001:db8:22::2, on every flow through wan2.
    const r = await flows(SRV6B, 10);
    expect(r).toMatchObject({ ok: 10, peers: { '2001:db8:22::2': 10 } });
    // wan1 still masquerades: balanced IPv6 reaches the server from wan1's address or the mapped one, nothing else.
    const balanced = await flows(SRV6A, 30);
    expect(balanced.ok).toBe(30);
    expect(Object.keys(balanced.peers).sort()).toEqual(['2001:db8:22::2', W1.addr6].sort());
  });

  it("the router's own IPv6 connections follow the rules, from the chosen WAN's address", async () => {
    last = configFile(dual());
    await cliOk(lab, 'gw', 'apply', '--config', last);
    // The main table's IPv6 default is wan1 (lower metric); the pin6 rule says wan2, and masquerade gives wan2's address.
    expect(await flows(SRV6B, 10, 'gw')).toMatchObject({ ok: 10, peers: { [W2.addr6]: 10 } });
    const balanced = await flows(SRV6A, 30, 'gw');
    expect(balanced.ok).toBe(30);
    expect(balanced.wan1).toBeGreaterThan(0);
    expect(balanced.wan2).toBeGreaterThan(0);
    expect(Object.keys(balanced.peers).sort()).toEqual([W1.addr6, W2.addr6].sort());
  });

  it("neighbour discovery from a WAN passes unmarked and uncounted; the pings it precedes count as the WAN's rx", async () => {
    last = configFile(dual());
    await cliOk(lab, 'gw', 'apply', '--config', last);
    const rxPackets = async () => {
      const r = await lab.exec('gw', 'nft', ['-j', 'list', 'counter', 'inet', 'nft_mwan', 'rx_wan1']);
      const c = (JSON.parse(r.stdout) as { nftables: { counter?: { packets: number } }[] }).nftables.find((o) => o.counter)?.counter;
      if (!c) throw new Error(`no rx_wan1 counter in ${r.stdout}`);
      return c.packets;
    };
    // Both ends forget each other, so the ISP's pings start with a neighbour solicitation and the gateway's
    // answer needs one too: at least two ND packets arrive on wan1 besides the three echo requests. (The chains
    // before in_wan1 marked and counted such packets as tx: without an ND rule in front, this test failed.)
    await lab.ip(net.ns.isp(1), ['-6', 'neigh', 'flush', 'dev', 'cust']);
    await lab.ip('gw', ['-6', 'neigh', 'flush', 'dev', W1.dev]);
    const before = await rxPackets();
    const ping = await lab.exec(net.ns.isp(1), 'ping', ['-6', '-n', '-c', '3', '-i', '0.2', '-W', '2', W1.addr6]);
    expect(ping.stdout).toMatch(/3 received/);
    expect((await lab.ip(net.ns.isp(1), ['-6', 'neigh', 'show', 'dev', 'cust'])).stdout).toContain(W1.addr6);
    expect((await rxPackets()) - before).toBe(3);
  });

  it('an ipv6_addr named set: set add/del take IPv6 addresses, prefixes and ranges and refuse IPv4 ones', async () => {
    const config = dual();
    config.rules = [{ name: 'pinned6', set: 'pinned6', policy: 'wan2_only' }, ...config.rules];
    // An IPv4-mapped prefix too: nft lists it with a dotted tail, which compile must emit for the table to verify.
    last = configFile({ ...config, sets: { pinned6: { type: 'ipv6_addr', elements: ['2001:db8:ee::/48', '::ffff:c633:6400/120'] } } });
    await cliOk(lab, 'gw', 'apply', '--config', last);
    const list = async () => (await cliOk(lab, 'gw', 'set', 'list', 'pinned6', '--config', last as string)).split('\n').filter(Boolean).sort();
    await cliOk(lab, 'gw', 'set', 'add', 'pinned6', SRV6A, '2001:db8:ff::100/120', '2001:db8:ff::30-2001:db8:ff::40', '--config', last);
    expect(await list()).toEqual(
      ['2001:db8:ee::/48', '::ffff:198.51.100.0/120', '2001:db8:ff::100/120', '2001:db8:ff::10', '2001:db8:ff::30-2001:db8:ff::40'].sort(),
    );
    // Every flow to the added address now goes through wan2 (balanced before: both WANs).
    expect(await flows(SRV6A, 10)).toMatchObject({ ok: 10, wan2: 10 });
    // The wrong family is refused before nft sees it, and nothing of that command is added.
    const bad = await cli(lab, 'gw', 'set', 'add', 'pinned6', '2001:db8:ff::50', SRV1, '--config', last);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/set pinned6 holds ipv6_addr: "192\.0\.2\.10" is an IPv4 element/);
    expect(await list()).not.toContain('2001:db8:ff::50');
    const garbage = await cli(lab, 'gw', 'set', 'add', 'pinned6', '2001:db8:ff::1/64', '--config', last);
    expect(garbage.exitCode).toBe(2);
    expect(garbage.stderr).toMatch(/has host bits set/);
    // del names the elements as add did.
    await cliOk(lab, 'gw', 'set', 'del', 'pinned6', SRV6A, '2001:db8:ff::30-2001:db8:ff::40', '--config', last);
    expect(await list()).toEqual(['2001:db8:ee::/48', '::ffff:198.51.100.0/120', '2001:db8:ff::100/120'].sort());
    const after = await flows(SRV6A, 30);
    expect(after.ok).toBe(30);
    expect(after.wan1).toBeGreaterThan(0);
  });

  it('failover moves both families: isp2 cut, new IPv6 and IPv4 connections all go through wan1', async () => {
    const d = await startDaemon(lab, dual());
    last = d.configPath;
    try {
      await d.waitFor('wan2', 'online');
      await net.setUpstream(2, 'drop');
      await d.waitFor('wan2', 'offline', 3_000);
      expect(await flows(SRV6A, 20)).toMatchObject({ ok: 20, wan1: 20 });
      expect(await flows(SRV1, 20)).toMatchObject({ ok: 20, wan1: 20 });
      // The IPv6-pinned destination has no member left: refused (unreachable), not leaked through wan1.
      expect((await flows(SRV6B, 5)).ok).toBe(0);
      await net.setUpstream(2, 'up');
      await d.waitFor('wan2', 'online', 5_000);
      expect(await flows(SRV6B, 5)).toMatchObject({ ok: 5, wan2: 5 });
    } finally {
      await d.stop();
    }
  });

  it('track6: IPv6 targets behind wan2 stop answering, so wan2 goes IPv6-offline only; IPv4 keeps using it, IPv6 moves to wan1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-track6-'));
    const out = join(dir, 'events.txt');
    const hooks = join(dir, 'hooks.d');
    mkdirSync(hooks, { mode: 0o755 });
    writeFileSync(join(hooks, '10-record'), `#!/bin/sh\necho "$ACTION $INTERFACE $FAMILY $NFT_MWAN_STATE" >> ${out}\n`);
    chmodSync(join(hooks, '10-record'), 0o755);
    const config = dual({ track6: { targets: [SRV6A], interval: 0.2, timeout: 0.2, down: 2, up: 2 } });
    const d = await startDaemon(lab, { ...config, globals: { hooks } });
    last = d.configPath;
    // ISP 2 forwards no IPv6 from the gateway any more; IPv4 passes. Removed even if the test fails.
    const isp2 = net.ns.isp(2);
    const cut = 'table ip6 v6cut {\n  chain f {\n    type filter hook forward priority -20; policy accept;\n    iifname "cust" drop\n  }\n}\n';
    const v6of = async () => (await d.iface('wan2'))?.ipv6?.state;
    try {
      await d.waitFor('wan2', 'online');
      await lab.waitFor(async () => (await v6of()) === 'online', { timeoutMs: 5_000, intervalMs: 20, what: 'wan2 IPv6 online' });
      await lab.nft(isp2, cut);
      lab.defer('isp2: v6cut', () => lab.exec(isp2, 'nft', ['delete', 'table', 'ip6', 'v6cut'], { reject: false }));
      await lab.waitFor(async () => (await v6of()) === 'offline', {
        timeoutMs: 5_000,
        intervalMs: 20,
        what: `wan2 IPv6 offline\n${d.log().slice(-10).join('\n')}`,
      });
      expect((await d.iface('wan2'))?.state).toBe('online');
      // IPv4 is still balanced over both WANs; every new IPv6 connection goes through wan1.
      const v4 = await flows(SRV1, 30);
      expect(v4.ok).toBe(30);
      expect(v4.wan2).toBeGreaterThan(0);
      expect(v4.wan1).toBeGreaterThan(0);
      expect(await flows(SRV6A, 20)).toMatchObject({ ok: 20, wan1: 20 });
      // status shows both families of wan2; the hook was told the family.
      const st = await cliOk(lab, 'gw', 'status', '--config', d.configPath, '--state-dir', d.stateDir);
      expect(st).toMatch(/wan2 .*online \(IPv6 offline\)/);
      expect(st).toMatch(/wan2 \(ipv6\)\s+offline/);
      await lab.waitFor(async () => readFileSync(out, 'utf8').includes('disconnected wan2 ipv6 offline'), { timeoutMs: 5_000, intervalMs: 20, what: 'hook' });
      expect(readFileSync(out, 'utf8')).not.toMatch(/wan2 ipv4/);
      // IPv6 answers again: wan2 takes IPv6 connections again.
      await lab.exec(isp2, 'nft', ['delete', 'table', 'ip6', 'v6cut']);
      await lab.waitFor(async () => (await v6of()) === 'online', { timeoutMs: 5_000, intervalMs: 20, what: 'wan2 IPv6 back online' });
      expect((await flows(SRV6A, 30)).wan2).toBeGreaterThan(0);
      expect(readFileSync(out, 'utf8')).toContain('connected wan2 ipv6 online');
    } finally {
      await d.stop();
    }
  });
});
