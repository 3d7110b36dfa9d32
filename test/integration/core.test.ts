// The core end to end: nft-mwan applied in a gateway namespace, real traffic through ISPs to a server.
import { afterAll, beforeAll, expect, it, onTestFailed } from 'vitest';
import { endpoint, runTcpClient, startTcpHold, startTcpServer, type TcpClientResult } from '../../lab/agents.js';
import { Lab } from '../../lab/netns.js';
import { buildMultiWan, LAB_NET, type MultiWan } from '../../lab/topology.js';
import { describeLab } from '../../lab/vitest.js';
import { binomialBounds, cli, cliOk, configFile, conntrackMarks, snapshot } from './helpers.js';

const W1 = LAB_NET.wan[1];
const W2 = LAB_NET.wan[2];
const W3 = LAB_NET.wan[3];
const [SRV1, SRV2] = LAB_NET.server.addrs;
const { lan: LAN, lan2: LAN2 } = LAB_NET;

const baseConfig = () => ({
  interfaces: {
    wan1: { device: 'wan1', gateway: 'auto' },
    wan2: { device: 'wan2', gateway: W2.gateway },
  } as Record<string, unknown>,
  policies: {
    balanced: {
      members: [
        { interface: 'wan1', weight: 3 },
        { interface: 'wan2', weight: 1 },
      ],
    },
    wan2_only: { members: [{ interface: 'wan2' }] },
  } as Record<string, unknown>,
  rules: [
    { name: 'docs_via_wan2', destIp: ['192.0.2.20/32'], proto: 'tcp', destPort: [5001], policy: 'wan2_only' },
    { name: 'default', policy: 'balanced' },
  ] as unknown[],
});

describeLab('nft-mwan core in a namespace lab', () => {
  const lab = new Lab();
  let net: MultiWan;
  let config: string;
  let foreignBefore: { table: string; rules: string; t220: string };

  /** stdout of a command in the gateway; a non-zero exit throws. */
  const gw = async (file: string, ...args: string[]) => (await lab.exec('gw', file, args)).stdout;
  /** Many new flows, 20 at a time, each given 3 s to connect and read the server's greeting. */
  const connectMany = (ns: string, target: string, count: number, concurrency = 20): Promise<TcpClientResult> =>
    runTcpClient(lab, ns, { target, count, concurrency, timeoutMs: 3_000 });

  const foreign = async () => ({
    table: await gw('nft', 'list', 'table', 'inet', 'foreign'),
    rules: (await gw('ip', 'rule', 'show'))
      .split('\n')
      .filter((l) => !l.includes('proto 77'))
      .join('\n'),
    t220: await gw('ip', 'route', 'show', 'table', '220'),
  });

  beforeAll(async () => {
    net = await buildMultiWan(lab, { wans: 3 });
    await startTcpServer(lab, 'srv', [endpoint(SRV1, 5001), endpoint(SRV2, 5001)]);
    // Things that belong to others on the router: nft-mwan must never touch them.
    await lab.nft('gw', 'table inet foreign {\n chain input { type filter hook input priority 0; policy accept; tcp dport 9 counter accept\n }\n}\n');
    await lab.ip('gw', ['rule', 'add', 'from', '10.99.0.0/16', 'lookup', '220', 'priority', '220']);
    await lab.ip('gw', ['route', 'add', '10.99.0.0/16', 'dev', LAN2.gwDev, 'table', '220']);
    foreignBefore = await foreign();
    config = configFile(baseConfig());
  });

  afterAll(async () => {
    await lab.teardown();
  });

  const dumpOnFailure = () =>
    onTestFailed(async () => {
      console.error(await lab.dump());
    });

  it('without nft-mwan no LAN connection gets past the ISPs (the lab baseline)', async () => {
    const r = await connectMany('lan', endpoint(SRV1, 5001), 20);
    // No NAT yet: the ISP drops the LAN source, so nothing gets through.
    expect(r.ok).toBe(0);
    expect(await net.ispDrops(1)).toBeGreaterThan(0);
  });

  it('check validates and compiles against the system but changes nothing', async () => {
    dumpOnFailure();
    const before = await snapshot(lab, 'gw');
    const out = await cliOk(lab, 'gw', 'check', '--config', config);
    expect(out).toMatch(/OK: 2 interfaces, 2 policies, 2 rules; nft accepted/);
    expect(await snapshot(lab, 'gw')).toBe(before);
  });

  it('apply installs one inet table, the per-WAN tables and fwmark rules, and status reports them in sync', async () => {
    dumpOnFailure();
    await cliOk(lab, 'gw', 'apply', '--config', config);
    const tables = await gw('nft', 'list', 'tables');
    expect(tables).toContain('table inet nft_mwan');
    const status = JSON.parse(await cliOk(lab, 'gw', 'status', '--json', '--config', config));
    expect(status.inSync).toBe(true);
    expect(status.interfaces.map((i: { name: string; gateway: string; id: number }) => [i.name, i.gateway, i.id])).toEqual([
      ['wan1', W1.gateway, 1],
      ['wan2', W2.gateway, 2],
    ]);
    expect(await gw('ip', 'route', 'show', 'table', '1002')).toContain(`default via ${W2.gateway} dev wan2`);
    const rules = await gw('ip', 'rule', 'show');
    expect(rules).toContain('fwmark 0x200/0x3f00 lookup 1002 proto 77');
    expect(rules).toContain('fwmark 0x200/0x3f00 unreachable proto 77');
    const human = await cliOk(lab, 'gw', 'status', '--config', config);
    expect(human).toMatch(/wan1\s+metric 1\s+weight 3\s+75\.0%/);
  });

  it("splits 400 new connections 3:1 within binomial tolerance, each from its WAN's masqueraded address", async () => {
    dumpOnFailure();
    const n = 400;
    const r = await connectMany('lan', endpoint(SRV1, 5001), n);
    expect(r.failed).toBe(0);
    expect(Object.keys(r.peers).sort()).toEqual([W1.addr, W2.addr].sort());
    const [lo, hi] = binomialBounds(n, 0.75);
    expect(r.peers[W1.addr]).toBeGreaterThanOrEqual(lo);
    expect(r.peers[W1.addr]).toBeLessThanOrEqual(hi);
    // The marks in conntrack agree with where the server saw each connection come from.
    const marks = await conntrackMarks(lab, 'gw', 5001);
    expect(marks.filter((m) => m === 0x200).length).toBe(r.peers[W2.addr]);
  });

  it('sends a destination matched by a rule through its policy only', async () => {
    dumpOnFailure();
    const r = await connectMany('lan', endpoint(SRV2, 5001), 40);
    expect(r).toMatchObject({ ok: 40, failed: 0, peers: { [W2.addr]: 40 } });
  });

  it("answers an inbound connection to wan2's address through wan2", async () => {
    dumpOnFailure();
    await startTcpServer(lab, 'gw', [endpoint('0.0.0.0', 6001)]);
    const drops = await net.ispDrops(1);
    const r = await connectMany('srv', endpoint(W2.addr, 6001), 10, 2);
    expect(r).toMatchObject({ ok: 10, failed: 0 });
    // The main table's default is wan1: without the connection's mark, replies would leave there and be dropped.
    expect(await net.ispDrops(1)).toBe(drops);
    const ping = await lab.exec('srv', 'ping', ['-n', '-c', '2', '-i', '0.2', '-W', '1', W2.addr], { reject: false });
    expect(ping.exitCode).toBe(0);
  });

  it('leaves LAN-to-router and LAN-to-LAN traffic unmarked and unmasqueraded', async () => {
    dumpOnFailure();
    await startTcpServer(lab, 'gw', [endpoint(LAN.gwAddr, 6002)]);
    await startTcpServer(lab, 'lan2', [endpoint(LAN2.addr, 6003)]);
    const toRouter = await connectMany('lan', endpoint(LAN.gwAddr, 6002), 5, 1);
    const toLan = await connectMany('lan', endpoint(LAN2.addr, 6003), 5, 1);
    expect(toRouter).toMatchObject({ ok: 5, peers: { [LAN.addr]: 5 } });
    expect(toLan).toMatchObject({ ok: 5, peers: { [LAN.addr]: 5 } });
    expect(await conntrackMarks(lab, 'gw', 6002)).toEqual([0, 0, 0, 0, 0]);
    expect(await conntrackMarks(lab, 'gw', 6003)).toEqual([0, 0, 0, 0, 0]);
  });

  it("the router's own ICMP errors for a balanced connection reach the LAN host (TTL exceeded), not the WAN", async () => {
    dumpOnFailure();
    // The echo is balanced (marked for a WAN); its time-exceeded error is the router's, related to it.
    const r = await lab.exec('lan', 'ping', ['-n', '-c', '1', '-W', '2', '-t', '1', SRV1], { reject: false });
    expect(r.stdout).toMatch(new RegExp(`From ${LAN.gwAddr.replace(/\./g, '\\.')}.*Time to live exceeded`));
  });

  it('leaves connections to a router address that no main-table route covers unmarked (a /32 on lo)', async () => {
    dumpOnFailure();
    // Only the local table knows 203.0.113.250: the bypass set must hold the router's own addresses.
    const own = '203.0.113.250';
    await lab.ip('gw', ['addr', 'add', `${own}/32`, 'dev', 'lo']);
    try {
      await cliOk(lab, 'gw', 'apply', '--config', config);
      expect(await gw('nft', 'list', 'set', 'inet', 'nft_mwan', 'bypass_v4')).toContain(own);
      await startTcpServer(lab, 'gw', [endpoint(own, 6004)]);
      expect(await connectMany('lan', endpoint(own, 6004), 5, 1)).toMatchObject({ ok: 5, peers: { [LAN.addr]: 5 } });
      expect(await conntrackMarks(lab, 'gw', 6004)).toEqual([0, 0, 0, 0, 0]);
    } finally {
      await lab.ip('gw', ['addr', 'del', `${own}/32`, 'dev', 'lo']);
      await cliOk(lab, 'gw', 'apply', '--config', config);
    }
  });

  it('re-applying the same config changes nothing at all', async () => {
    dumpOnFailure();
    const before = await snapshot(lab, 'gw');
    const r = await cli(lab, 'gw', 'apply', '--config', config);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain('already up to date');
    expect(await snapshot(lab, 'gw')).toBe(before);
  });

  it('a weight change re-sends only the changed chain: the other chains keep their rules (same handles), the policy holds the new weights', async () => {
    dumpOnFailure();
    const handles = async (chain: string) =>
      (JSON.parse(await gw('nft', '-j', '-a', 'list', 'chain', 'inet', 'nft_mwan', chain)) as { nftables: { rule?: { handle: number } }[] }).nftables.flatMap(
        (i) => (i.rule ? [i.rule.handle] : []),
      );
    const classify = await handles('classify');
    const policy = await handles('policy_balanced');
    const even = baseConfig();
    even.policies.balanced = {
      members: [
        { interface: 'wan1', weight: 1 },
        { interface: 'wan2', weight: 1 },
      ],
    };
    const r = await cli(lab, 'gw', 'apply', '--config', configFile(even));
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain('updated in one transaction (changed chains only) and verified');
    expect(await handles('classify')).toEqual(classify);
    expect(await handles('policy_balanced')).not.toEqual(policy);
    expect(await gw('nft', 'list', 'chain', 'inet', 'nft_mwan', 'policy_balanced')).toMatch(/numgen random mod 2 vmap/);
    await cliOk(lab, 'gw', 'apply', '--config', config);
    expect(await handles('classify')).toEqual(classify);
  });

  it("keeps every surviving interface's mark and table when interfaces are reordered, added and removed", async () => {
    dumpOnFailure();
    const hold = await startTcpHold(lab, 'lan', { target: endpoint(SRV2, 5001), intervalMs: 50 });

    const reordered = baseConfig();
    reordered.interfaces = { wan3: { device: 'wan3', gateway: W3.gateway }, wan2: reordered.interfaces.wan2, wan1: reordered.interfaces.wan1 };
    reordered.policies.balanced = { members: [{ interface: 'wan3' }, { interface: 'wan2' }, { interface: 'wan1' }] };
    const f1 = configFile(reordered);
    await cliOk(lab, 'gw', 'apply', '--config', f1);
    const ids1 = JSON.parse(await cliOk(lab, 'gw', 'status', '--json', '--config', f1)).interfaces;
    expect(ids1.map((i: { name: string; id: number; table: number }) => [i.name, i.id, i.table])).toEqual([
      ['wan1', 1, 1001],
      ['wan2', 2, 1002],
      ['wan3', 3, 1003],
    ]);

    const removed = baseConfig();
    removed.interfaces = { wan3: { device: 'wan3', gateway: W3.gateway }, wan2: removed.interfaces.wan2 };
    removed.policies = { balanced: { members: [{ interface: 'wan3' }, { interface: 'wan2' }] }, wan2_only: removed.policies.wan2_only };
    const f2 = configFile(removed);
    await cliOk(lab, 'gw', 'apply', '--config', f2);
    const st = JSON.parse(await cliOk(lab, 'gw', 'status', '--json', '--config', f2));
    expect(st.inSync).toBe(true);
    expect(st.interfaces.map((i: { name: string; id: number }) => [i.name, i.id])).toEqual([
      ['wan2', 2],
      ['wan3', 3],
    ]);
    // wan1's routing is gone, nothing else of it is left behind.
    expect(await gw('ip', 'route', 'show', 'table', '1001')).toBe('');
    expect(await gw('ip', 'rule', 'show')).not.toContain('0x100/0x3f00');

    // The connection pinned to wan2 by its rule kept flowing through all of it.
    const summary = await hold.stop();
    expect(summary).toMatchObject({ event: 'summary', closed: false, error: null });
    expect(summary.echoed).toBeGreaterThan(0);
    expect(summary.sent - summary.echoed).toBeLessThanOrEqual(1);

    await cliOk(lab, 'gw', 'apply', '--config', config);
  });

  it('rejects an invalid config with exit 78 and the JSON path, leaving everything byte for byte as it was', async () => {
    dumpOnFailure();
    const before = await snapshot(lab, 'gw');
    const bad = baseConfig();
    (bad.policies.balanced as { members: { interface: string }[] }).members[1] = { interface: 'wan9' };
    const r = await cli(lab, 'gw', 'apply', '--config', configFile(bad));
    expect(r.exitCode).toBe(78);
    expect(r.stderr).toContain('/policies/balanced/members/1/interface: unknown interface "wan9"');
    expect(await snapshot(lab, 'gw')).toBe(before);
  });

  it('leaves the previous ruleset and routing byte for byte intact when the nft transaction fails', async () => {
    dumpOnFailure();
    // Someone replaced nft-mwan's id map with one of another type: re-adding ours now fails in the kernel.
    await gw('nft', 'delete', 'map', 'inet', 'nft_mwan', 'interface_ids');
    await gw('nft', 'add', 'map', 'inet', 'nft_mwan', 'interface_ids', '{ type ipv4_addr : mark; }');
    const before = await snapshot(lab, 'gw');
    // Adding wan3 means routing changes that must be undone when nft fails.
    const more = baseConfig();
    more.interfaces.wan3 = { device: 'wan3', gateway: W3.gateway };
    const r = await cli(lab, 'gw', 'apply', '--config', configFile(more));
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/nft rejected the batch/);
    expect(await snapshot(lab, 'gw')).toBe(before);
    // Repair for the following tests: the stale map goes when the table is rebuilt by stop + apply.
    await cliOk(lab, 'gw', 'stop', '--config', config);
    await cliOk(lab, 'gw', 'apply', '--config', config);
  });

  it('stop removes exactly what nft-mwan installed; foreign tables, rules and table 220 are untouched throughout', async () => {
    dumpOnFailure();
    expect(await foreign()).toEqual(foreignBefore);
    await cliOk(lab, 'gw', 'stop', '--config', config);
    expect(await gw('nft', 'list', 'tables')).not.toContain('nft_mwan');
    expect(await gw('ip', 'rule', 'show')).not.toContain('proto 77');
    expect(await gw('ip', 'route', 'show', 'table', 'all', 'proto', '77')).toBe('');
    expect(await foreign()).toEqual(foreignBefore);
  });
});
