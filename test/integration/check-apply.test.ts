// check and apply agree on what the live system does not offer yet: a device that does not exist, a gateway on no
// subnet of its device, gateway "auto" with no default route yet. Both warn naming the JSON path, exit 0, and apply
// installs those WANs down while the others carry the traffic; once the system catches up, the next apply brings
// them up. What can never work (a gateway that is the router's own address) is refused by both.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { endpoint, runTcpClient, startTcpServer } from '../../lab/agents.js';
import { Lab } from '../../lab/netns.js';
import { buildMultiWan, LAB_NET } from '../../lab/topology.js';
import { describeLab } from '../../lab/vitest.js';
import { cli, cliOk, configFile, snapshot } from './helpers.js';
import { startDaemon } from './daemon-helpers.js';

const W1 = LAB_NET.wan[1];
const W2 = LAB_NET.wan[2];
const W3 = LAB_NET.wan[3];
const [SRV1] = LAB_NET.server.addrs as [string, string];

/** ppp9 does not exist yet; it will be one end of a veth pair inside the gateway's namespace, with this subnet. */
const PPP = { dev: 'ppp9', addr: '10.99.0.2/24', gateway: '10.99.0.1' };

const config = {
  interfaces: {
    wan1: { device: W1.dev, gateway: W1.gateway },
    wan2: { device: W2.dev, gateway: W2.gateway },
    wan3: { device: W3.dev, gateway: 'auto' },
    wan9: { device: PPP.dev, gateway: PPP.gateway },
  },
  policies: { all: { members: ['wan1', 'wan2', 'wan3', 'wan9'].map((i) => ({ interface: i })) } },
  rules: [{ name: 'default', policy: 'all' }],
};

const WAITING = [
  ['wan2', /\/interfaces\/wan2\/gateway: 198\.51\.100\.9 is on no subnet of device wan2/],
  ['wan3', /\/interfaces\/wan3\/gateway: "auto" but the main table has no IPv4 default route through device wan3/],
  ['wan9', /\/interfaces\/wan9\/device: device "ppp9" does not exist/],
] as const;

interface StatusJson {
  interfaces: { name: string; state: string; waiting?: string }[];
  warnings: string[];
}

// The cases run in order and build on each other's system state (as a router's first hour would).
describeLab('check and apply agree on what the live system does not offer yet', () => {
  const lab = new Lab();
  const file = configFile(config);
  const gwIp = (...args: string[]) => lab.ip('gw', args);
  /** A routing table's routes; a table with none does not exist for ip. */
  const routesOf = async (table: string) => (await lab.ip('gw', ['route', 'show', 'table', table], { reject: false })).stdout.trim();
  const states = async () => {
    const s = JSON.parse(await cliOk(lab, 'gw', 'status', '--json', '--config', file)) as StatusJson;
    return Object.fromEntries(s.interfaces.map((i) => [i.name, i.state]));
  };
  const peers = async () => (await runTcpClient(lab, 'lan', { target: endpoint(SRV1, 5001), count: 40, concurrency: 10, timeoutMs: 2_000 })).peers;

  beforeAll(async () => {
    await buildMultiWan(lab, { wans: 3 });
    await startTcpServer(lab, 'srv', [endpoint(SRV1, 5001)]);
    // The snapshot below compares byte for byte: let IPv6 duplicate address detection add its routes first.
    await lab.waitFor(async () => (await gwIp('-6', 'addr', 'show', 'tentative')).stdout.trim() === '', {
      timeoutMs: 15_000,
      what: 'IPv6 DAD to settle in the gateway',
    });
    // wan2 before DHCP: no address, so its gateway is on no subnet of it; wan3 before its default route.
    await gwIp('addr', 'flush', 'dev', W2.dev);
    await gwIp('route', 'del', 'default', 'dev', W3.dev);
  }, 120_000);

  afterAll(async () => {
    await cli(lab, 'gw', 'stop', '--config', file);
    await lab.teardown();
  });

  it('check exits 0 and warns, naming each JSON path, and changes nothing', async () => {
    const before = await snapshot(lab, 'gw');
    const r = await cli(lab, 'gw', 'check', '--config', file);
    expect(r.exitCode, r.stderr).toBe(0);
    for (const [, warning] of WAITING) expect(r.stderr).toMatch(warning);
    expect(r.stdout).toMatch(/OK: 4 interfaces \(3 down for now\), 1 policy/);
    expect(await snapshot(lab, 'gw')).toBe(before);
  });

  it('apply prints the same warnings, installs those WANs down and the other one carries every connection', async () => {
    const checked = await cli(lab, 'gw', 'check', '--config', file);
    const r = await cli(lab, 'gw', 'apply', '--config', file);
    expect(r.exitCode, r.stderr).toBe(0);
    const warnings = (text: string) => text.split('\n').filter((l) => l.includes('/interfaces/'));
    expect(warnings(r.stderr)).toEqual(warnings(checked.stderr));
    expect(warnings(r.stderr)).toHaveLength(WAITING.length);
    expect(await states()).toEqual({ wan1: 'online', wan2: 'down', wan3: 'down', wan9: 'down' });
    // No route in the down WANs' tables (1002..1004), one in wan1's.
    for (const table of ['1002', '1003', '1004']) expect(await routesOf(table)).toBe('');
    expect(await routesOf('1001')).toMatch(new RegExp(`default via ${W1.gateway.replace(/\./g, '\\.')} dev wan1`));
    expect(await peers()).toEqual({ [W1.addr]: 40 });
  });

  it('status and explain show those WANs as down, saying why', async () => {
    const text = await cliOk(lab, 'gw', 'status', '--config', file);
    for (const [name, warning] of WAITING) {
      expect(text).toMatch(new RegExp(`^\\s+${name}\\s.*\\sdown\\s`, 'm'));
      expect(text).toMatch(new RegExp(`${name} is down: ${warning.source.replace(/^.*?: /, '')}`));
    }
    expect(text).not.toMatch(/wan9.*online/);
    const e = JSON.parse(await cliOk(lab, 'gw', 'explain', '--json', '--config', file, '--src', LAB_NET.lan.addr, '--dst', SRV1)) as {
      candidates: { interface: string; probability: number }[];
      down: Record<string, string>;
    };
    expect(e.candidates).toEqual([expect.objectContaining({ interface: 'wan1', probability: 1 })]);
    expect(Object.keys(e.down).sort()).toEqual(['wan2', 'wan3', 'wan9']);
  });

  it('once the device, the address and the route are there, the next apply brings those WANs up', async () => {
    await gwIp('addr', 'add', `${W2.addr}/${W2.len}`, 'dev', W2.dev);
    await gwIp('route', 'add', 'default', 'via', W3.gateway, 'dev', W3.dev, 'metric', String(W3.metric));
    // Both ends in the gateway's namespace (`ip -n gw` creates them there).
    await gwIp('link', 'add', PPP.dev, 'type', 'veth', 'peer', 'name', `${PPP.dev}p`);
    await gwIp('addr', 'add', PPP.addr, 'dev', PPP.dev);
    await gwIp('link', 'set', `${PPP.dev}p`, 'up');
    await gwIp('link', 'set', PPP.dev, 'up');
    const checked = await cli(lab, 'gw', 'check', '--config', file);
    expect(checked.exitCode, checked.stderr).toBe(0);
    expect(checked.stderr).not.toMatch(/\/interfaces\//);
    const r = await cli(lab, 'gw', 'apply', '--config', file);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await states()).toEqual({ wan1: 'online', wan2: 'online', wan3: 'online', wan9: 'online' });
    expect(await routesOf('1004')).toMatch(/default via 10\.99\.0\.1 dev ppp9/);
    // wan1..wan3 reach the server (ppp9 leads nowhere: its quarter of the connections fails).
    const seen = await peers();
    for (const w of [W1, W2, W3]) expect(seen[w.addr] ?? 0).toBeGreaterThan(0);
  });

  it('check and apply refuse a gateway that is one of the router own addresses, naming its path', async () => {
    const bad = configFile({ ...config, interfaces: { ...config.interfaces, wan1: { device: W1.dev, gateway: W1.addr } } });
    for (const command of ['check', 'apply']) {
      const r = await cli(lab, 'gw', command, '--config', bad);
      expect(r.exitCode, `${command}: ${r.stderr}`).toBe(78);
      expect(r.stderr).toMatch(/\/interfaces\/wan1\/gateway: 198\.51\.100\.2 is an address of this router/);
    }
  });

  it("check and apply warn about a foreign fwmark rule overlapping the mark mask, and a foreign route in nft-mwan's tables", async () => {
    await gwIp('rule', 'add', 'fwmark', '0x100/0xff00', 'lookup', '100', 'priority', '50');
    await gwIp('route', 'add', '10.77.0.0/16', 'dev', W1.dev, 'table', '1001', 'proto', 'static');
    try {
      for (const command of ['check', 'apply']) {
        const r = await cli(lab, 'gw', command, '--config', file);
        expect(r.exitCode, r.stderr).toBe(0);
        expect(r.stderr).toMatch(/\/globals\/markMask: a foreign ip rule \(priority 50, IPv4\) matches fwmark 0x100\/0xff00/);
        expect(r.stderr).toMatch(/\/globals\/routeTableBase: a foreign IPv4 route \(10\.77\.0\.0\/16 dev wan1, proto static\) is in table 1001/);
      }
      // Never touched by apply.
      expect(await routesOf('1001')).toMatch(/10\.77\.0\.0\/16 dev wan1 proto static/);
    } finally {
      await gwIp('rule', 'del', 'priority', '50');
      await gwIp('route', 'del', '10.77.0.0/16', 'table', '1001');
    }
  });

  it('the daemon starts with a WAN whose device does not exist yet, and brings it up when the device appears (and its address, again)', async () => {
    const track = { targets: [SRV1], interval: 0.2, timeout: 0.2, down: 3, up: 3 };
    await gwIp('link', 'set', W2.dev, 'down');
    await gwIp('link', 'set', W2.dev, 'name', 'gone2');
    const d = await startDaemon(lab, {
      interfaces: { wan1: { device: W1.dev, gateway: W1.gateway, track }, wan2: { device: W2.dev, gateway: W2.gateway, track } },
      policies: { both: { members: [{ interface: 'wan1' }, { interface: 'wan2' }] } },
      rules: [{ name: 'default', policy: 'both' }],
    });
    try {
      await d.waitFor('wan1', 'online', 10_000);
      expect((await d.iface('wan2'))?.state).not.toBe('online');
      expect(await routesOf('1002')).toBe('');
      await gwIp('link', 'set', 'gone2', 'name', W2.dev);
      await gwIp('link', 'set', W2.dev, 'up');
      await d.waitFor('wan2', 'online', 15_000);
      await lab.waitFor(async () => /default via 198\.51\.100\.9 dev wan2/.test(await routesOf('1002')), { timeoutMs: 5_000, what: "wan2's route" });
      // DHCP loses the address, then gives it back: down without a route meanwhile, up again after.
      await gwIp('addr', 'flush', 'dev', W2.dev);
      await lab.waitFor(async () => (await routesOf('1002')) === '', { timeoutMs: 10_000, what: "wan2's route to go" });
      await gwIp('addr', 'add', `${W2.addr}/${W2.len}`, 'dev', W2.dev);
      await d.waitFor('wan2', 'online', 15_000);
      await lab.waitFor(async () => /default via 198\.51\.100\.9 dev wan2/.test(await routesOf('1002')), { timeoutMs: 5_000, what: "wan2's route back" });
    } finally {
      expect(await d.stop()).toBe(0);
    }
  });
});
