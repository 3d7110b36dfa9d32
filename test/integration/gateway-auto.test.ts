// "gateway": "auto" under networkd and NetworkManager: the main table's default routes as DHCP and router
// advertisements install them (proto dhcp / proto ra, their metrics, link-local next hops, several routers on one
// link), and a DHCP renewal that changes the router is followed by the daemon.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { endpoint, runTcpClient, startTcpServer } from '../../lab/agents.js';
import { Lab } from '../../lab/netns.js';
import { buildMultiWan, LAB_NET } from '../../lab/topology.js';
import { describeLab } from '../../lab/vitest.js';
import { cliOk, configFile } from './helpers.js';
import { startDaemon } from './daemon-helpers.js';

const W1 = LAB_NET.wan[1];
const W2 = LAB_NET.wan[2];
const [SRV1] = LAB_NET.server.addrs as [string, string];
const SRV6 = LAB_NET.server.addrs6[0] as string;

const config = {
  interfaces: {
    wan1: { device: 'wan1', id: 1, family: 'both', gateway: 'auto', gateway6: 'auto' },
    wan2: { device: 'wan2', id: 2, family: 'both', gateway: 'auto', gateway6: 'auto' },
  },
  policies: { wan1_only: { members: [{ interface: 'wan1' }] }, balanced: { members: [{ interface: 'wan1' }, { interface: 'wan2' }] } },
  rules: [{ name: 'default', policy: 'wan1_only' }],
};

describeLab('gateway "auto" follows the routes DHCP and router advertisements install', () => {
  const lab = new Lab();
  /** The ISP's link-local address on the customer link: what a router advertisement names as next hop. */
  const linkLocal: Record<1 | 2, string> = { 1: '', 2: '' };

  beforeAll(async () => {
    await buildMultiWan(lab, { wans: 2, ipv6: true });
    await startTcpServer(lab, 'srv', [endpoint(SRV1, 5001), endpoint(SRV6, 5001)]);
    for (const k of [1, 2] as const) {
      const w = LAB_NET.wan[k];
      // Routers advertise from their link-local address; the lab's ISPs get the one most ISPs' routers use.
      const addr = 'fe80::1';
      await lab.ip(w.ns, ['-6', 'addr', 'add', `${addr}/64`, 'dev', 'cust', 'nodad']);
      linkLocal[k] = addr;
      // What networkd/NetworkManager install: proto dhcp and proto ra, their own metrics (NM: 100 + device order).
      await lab.ip('gw', ['route', 'del', 'default', 'dev', w.dev], { reject: false });
      await lab.ip('gw', ['-6', 'route', 'del', 'default', 'dev', w.dev], { reject: false });
      await lab.ip('gw', ['route', 'add', 'default', 'via', w.gateway, 'dev', w.dev, 'proto', 'dhcp', 'metric', String(99 + k)]);
      await lab.ip('gw', ['-6', 'route', 'add', 'default', 'via', addr, 'dev', w.dev, 'proto', 'ra', 'metric', String(1023 + k), 'pref', 'medium']);
    }
  });
  afterAll(async () => {
    await lab.teardown();
  });

  const flows = async (target: string) => {
    const r = await runTcpClient(lab, LAB_NET.lan.ns, { target: endpoint(target, 5001), count: 5, concurrency: 5, timeoutMs: 2_000 });
    return r.ok;
  };

  it('each WAN table gets the DHCP router (lowest metric) and the advertised link-local router, and traffic flows', async () => {
    await cliOk(lab, 'gw', 'apply', '--config', configFile(config));
    expect((await lab.ip('gw', ['route', 'show', 'table', '1001'])).stdout).toMatch(new RegExp(`default via ${W1.gateway} dev wan1 proto 77`));
    expect((await lab.ip('gw', ['route', 'show', 'table', '1002'])).stdout).toMatch(new RegExp(`default via ${W2.gateway} dev wan2 proto 77`));
    expect((await lab.ip('gw', ['-6', 'route', 'show', 'table', '1001'])).stdout).toMatch(new RegExp(`default via ${linkLocal[1]} dev wan1 proto 77`));
    expect(await flows(SRV1)).toBe(5);
    expect(await flows(SRV6)).toBe(5);
  });

  it('a second, worse default route on the same device (a stale lease) does not win over the better metric', async () => {
    await lab.ip('gw', ['route', 'add', 'default', 'via', W1.addr.replace(/\.\d+$/, '.6'), 'dev', 'wan1', 'proto', 'dhcp', 'metric', '20100']);
    await cliOk(lab, 'gw', 'apply', '--config', configFile(config));
    expect((await lab.ip('gw', ['route', 'show', 'table', '1001'])).stdout).toMatch(new RegExp(`default via ${W1.gateway} dev wan1 proto 77`));
    await lab.ip('gw', ['route', 'del', 'default', 'dev', 'wan1', 'metric', '20100']);
  });

  it('two advertising routers on one link (a multipath RA route): the WAN still gets a next hop of that link', async () => {
    // The kernel merges RA defaults of equal metric into one route with nexthops (no "gateway" field in ip -j).
    await lab.ip('gw', [
      '-6',
      'route',
      'replace',
      'default',
      'proto',
      'ra',
      'metric',
      '1024',
      'nexthop',
      'via',
      linkLocal[1],
      'dev',
      'wan1',
      'nexthop',
      'via',
      'fe80::99',
      'dev',
      'wan1',
    ]);
    await cliOk(lab, 'gw', 'apply', '--config', configFile(config));
    expect((await lab.ip('gw', ['-6', 'route', 'show', 'table', '1001'])).stdout).toMatch(new RegExp(`default via ${linkLocal[1]} dev wan1 proto 77`));
    expect(await flows(SRV6)).toBe(5);
  });

  it('the daemon follows a DHCP renewal that changes the router: the WAN table is rewritten within seconds', async () => {
    const daemon = await startDaemon(lab, config);
    try {
      // The ISP's router gets a second address; the new lease names it.
      const second = W1.gateway.replace(/\.\d+$/, '.5');
      await lab.ip(W1.ns, ['addr', 'add', `${second}/29`, 'dev', 'cust']);
      lab.defer(`isp1: address ${second}`, () => lab.ip(W1.ns, ['addr', 'del', `${second}/29`, 'dev', 'cust'], { reject: false }));
      await lab.ip('gw', ['route', 'replace', 'default', 'via', second, 'dev', 'wan1', 'proto', 'dhcp', 'metric', '100']);
      await lab.waitFor(async () => (await lab.ip('gw', ['route', 'show', 'table', '1001'])).stdout.includes(`default via ${second} dev wan1`), {
        timeoutMs: 10_000,
        what: `table 1001 to follow the new router ${second}`,
      });
      expect(await flows(SRV1)).toBe(5);
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
  });
});
