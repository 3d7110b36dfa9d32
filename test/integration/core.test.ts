// The core end to end: nft-mwan applied in a gateway namespace, real traffic through ISPs to a server.
import { afterAll, beforeAll, expect, it, onTestFailed } from 'vitest';
import { Lab } from '../../lab/ns.js';
import { ADDR, buildMultiWan, type MultiWan } from '../../lab/multiwan.js';
import { describeLab } from '../../lab/require-lab.js';
import { binomialBounds, cli, cliOk, configFile, connectMany, conntrackMarks, snapshot, startServer } from './helpers.js';

const W1 = ADDR.wan(1);
const W2 = ADDR.wan(2);
const W3 = ADDR.wan(3);

const baseConfig = () => ({
  interfaces: {
    wan1: { device: 'wan1', gateway: 'auto' },
    wan2: { device: 'wan2', gateway: W2.isp },
  } as Record<string, unknown>,
  policies: {
    balanced: { members: [{ interface: 'wan1', weight: 3 }, { interface: 'wan2', weight: 1 }] },
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

  const foreign = async () => ({
    table: await lab.sh(net.gw, 'nft', ['list', 'table', 'inet', 'foreign']),
    rules: (await lab.sh(net.gw, 'ip', ['rule', 'show'])).split('\n').filter((l) => !l.includes('proto 77')).join('\n'),
    t220: await lab.sh(net.gw, 'ip', ['route', 'show', 'table', '220']),
  });

  beforeAll(async () => {
    net = await buildMultiWan(lab, { wans: 3 });
    await startServer(lab, net.srv, `${ADDR.server[0]}:5001`, `${ADDR.server[1]}:5001`);
    // Things that belong to others on the router: nft-mwan must never touch them.
    await lab.sh(net.gw, 'nft', ['-f', '-'], {
      input: 'table inet foreign {\n chain input { type filter hook input priority 0; policy accept; tcp dport 9 counter accept\n }\n}\n',
    });
    await lab.sh(net.gw, 'ip', ['rule', 'add', 'from', '10.99.0.0/16', 'lookup', '220', 'priority', '220']);
    await lab.sh(net.gw, 'ip', ['route', 'add', '10.99.0.0/16', 'dev', 'lan1', 'table', '220']);
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
    const r = await connectMany(lab, net.lan, `${ADDR.server[0]}:5001`, 20);
    // No NAT yet: the ISP drops the LAN source, so nothing gets through.
    expect(r.ok).toBe(0);
    expect(await net.spoofDrops(1)).toBeGreaterThan(0);
  });

  it('check validates and compiles against the system but changes nothing', async () => {
    dumpOnFailure();
    const before = await snapshot(lab, net.gw);
    const out = await cliOk(lab, net.gw, 'check', '--config', config);
    expect(out).toMatch(/OK: 2 interfaces, 2 policies, 2 rules; nft accepted/);
    expect(await snapshot(lab, net.gw)).toBe(before);
  });

  it('apply installs one inet table, the per-WAN tables and fwmark rules, and status reports them in sync', async () => {
    dumpOnFailure();
    await cliOk(lab, net.gw, 'apply', '--config', config);
    const tables = await lab.sh(net.gw, 'nft', ['list', 'tables']);
    expect(tables).toContain('table inet nft_mwan');
    const status = JSON.parse(await cliOk(lab, net.gw, 'status', '--json', '--config', config));
    expect(status.inSync).toBe(true);
    expect(status.interfaces.map((i: { name: string; gateway: string; id: number }) => [i.name, i.gateway, i.id])).toEqual([
      ['wan1', W1.isp, 1],
      ['wan2', W2.isp, 2],
    ]);
    expect(await lab.sh(net.gw, 'ip', ['route', 'show', 'table', '1002'])).toContain(`default via ${W2.isp} dev wan2`);
    const rules = await lab.sh(net.gw, 'ip', ['rule', 'show']);
    expect(rules).toContain('fwmark 0x200/0x3f00 lookup 1002 proto 77');
    expect(rules).toContain('fwmark 0x200/0x3f00 unreachable proto 77');
    const human = await cliOk(lab, net.gw, 'status', '--config', config);
    expect(human).toMatch(/wan1\s+metric 1\s+weight 3\s+75\.0%/);
  });

  it('splits 400 new connections 3:1 within binomial tolerance, each from its WAN\'s masqueraded address', async () => {
    dumpOnFailure();
    const n = 400;
    const r = await connectMany(lab, net.lan, `${ADDR.server[0]}:5001`, n);
    expect(r.failed).toBe(0);
    expect(Object.keys(r.peers).sort()).toEqual([W1.gw, W2.gw].sort());
    const [lo, hi] = binomialBounds(n, 0.75);
    expect(r.peers[W1.gw]).toBeGreaterThanOrEqual(lo);
    expect(r.peers[W1.gw]).toBeLessThanOrEqual(hi);
    // The marks in conntrack agree with where the server saw each connection come from.
    const marks = await conntrackMarks(lab, net.gw, 5001);
    expect(marks.filter((m) => m === 0x200).length).toBe(r.peers[W2.gw]);
  });

  it('sends a destination matched by a rule through its policy only', async () => {
    dumpOnFailure();
    const r = await connectMany(lab, net.lan, `${ADDR.server[1]}:5001`, 40);
    expect(r).toMatchObject({ ok: 40, failed: 0, peers: { [W2.gw]: 40 } });
  });

  it('answers an inbound connection to wan2\'s address through wan2', async () => {
    dumpOnFailure();
    await startServer(lab, net.gw, '0.0.0.0:6001');
    const drops = await net.spoofDrops(1);
    const r = await connectMany(lab, net.srv, `${W2.gw}:6001`, 10, 2);
    expect(r).toMatchObject({ ok: 10, failed: 0 });
    // The main table's default is wan1: without the connection's mark, replies would leave there and be dropped.
    expect(await net.spoofDrops(1)).toBe(drops);
    const ping = await lab.exec(net.srv, 'ping', ['-n', '-c', '2', '-i', '0.2', '-W', '1', W2.gw]);
    expect(ping.exitCode).toBe(0);
  });

  it('leaves LAN-to-router and LAN-to-LAN traffic unmarked and unmasqueraded', async () => {
    dumpOnFailure();
    await startServer(lab, net.gw, `${ADDR.lan.gw}:6002`);
    await startServer(lab, net.lan2, `${ADDR.lan2.host}:6003`);
    const toRouter = await connectMany(lab, net.lan, `${ADDR.lan.gw}:6002`, 5, 1);
    const toLan = await connectMany(lab, net.lan, `${ADDR.lan2.host}:6003`, 5, 1);
    expect(toRouter).toMatchObject({ ok: 5, peers: { [ADDR.lan.host]: 5 } });
    expect(toLan).toMatchObject({ ok: 5, peers: { [ADDR.lan.host]: 5 } });
    expect(await conntrackMarks(lab, net.gw, 6002)).toEqual([0, 0, 0, 0, 0]);
    expect(await conntrackMarks(lab, net.gw, 6003)).toEqual([0, 0, 0, 0, 0]);
  });

  it('re-applying the same config changes nothing at all', async () => {
    dumpOnFailure();
    const before = await snapshot(lab, net.gw);
    const r = await cli(lab, net.gw, 'apply', '--config', config);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain('already up to date');
    expect(await snapshot(lab, net.gw)).toBe(before);
  });

  it('keeps every surviving interface\'s mark and table when interfaces are reordered, added and removed', async () => {
    dumpOnFailure();
    const [node, args] = lab.agentArgs('hold', [`${ADDR.server[1]}:5001`, '50']);
    const hold = lab.spawn(net.lan, node, args);
    await hold.waitForLine((l) => l.includes('"connected"'));

    const reordered = baseConfig();
    reordered.interfaces = { wan3: { device: 'wan3', gateway: W3.isp }, wan2: reordered.interfaces.wan2, wan1: reordered.interfaces.wan1 };
    reordered.policies.balanced = { members: [{ interface: 'wan3' }, { interface: 'wan2' }, { interface: 'wan1' }] };
    const f1 = configFile(reordered);
    await cliOk(lab, net.gw, 'apply', '--config', f1);
    const ids1 = JSON.parse(await cliOk(lab, net.gw, 'status', '--json', '--config', f1)).interfaces;
    expect(ids1.map((i: { name: string; id: number; table: number }) => [i.name, i.id, i.table])).toEqual([
      ['wan1', 1, 1001],
      ['wan2', 2, 1002],
      ['wan3', 3, 1003],
    ]);

    const removed = baseConfig();
    removed.interfaces = { wan3: { device: 'wan3', gateway: W3.isp }, wan2: removed.interfaces.wan2 };
    removed.policies = { balanced: { members: [{ interface: 'wan3' }, { interface: 'wan2' }] }, wan2_only: removed.policies.wan2_only };
    const f2 = configFile(removed);
    await cliOk(lab, net.gw, 'apply', '--config', f2);
    const st = JSON.parse(await cliOk(lab, net.gw, 'status', '--json', '--config', f2));
    expect(st.inSync).toBe(true);
    expect(st.interfaces.map((i: { name: string; id: number }) => [i.name, i.id])).toEqual([
      ['wan2', 2],
      ['wan3', 3],
    ]);
    // wan1's routing is gone, nothing else of it is left behind.
    expect(await lab.sh(net.gw, 'ip', ['route', 'show', 'table', '1001'])).toBe('');
    expect(await lab.sh(net.gw, 'ip', ['rule', 'show'])).not.toContain('0x100/0x3f00');

    // The connection pinned to wan2 by its rule kept flowing through all of it.
    const summary = JSON.parse((await hold.stop()).trim().split('\n').pop() as string);
    expect(summary).toMatchObject({ event: 'summary', closed: false, error: null });
    expect(summary.echoed).toBeGreaterThan(0);
    expect(summary.sent - summary.echoed).toBeLessThanOrEqual(1);

    await cliOk(lab, net.gw, 'apply', '--config', config);
  });

  it('rejects an invalid config with exit 78 and the JSON path, leaving everything byte for byte as it was', async () => {
    dumpOnFailure();
    const before = await snapshot(lab, net.gw);
    const bad = baseConfig();
    (bad.policies.balanced as { members: { interface: string }[] }).members[1] = { interface: 'wan9' };
    const r = await cli(lab, net.gw, 'apply', '--config', configFile(bad));
    expect(r.exitCode).toBe(78);
    expect(r.stderr).toContain('/policies/balanced/members/1/interface: unknown interface "wan9"');
    expect(await snapshot(lab, net.gw)).toBe(before);
  });

  it('leaves the previous ruleset and routing byte for byte intact when the nft transaction fails', async () => {
    dumpOnFailure();
    // Someone replaced nft-mwan's id map with one of another type: re-adding ours now fails in the kernel.
    await lab.sh(net.gw, 'nft', ['delete', 'map', 'inet', 'nft_mwan', 'interface_ids']);
    await lab.sh(net.gw, 'nft', ['add', 'map', 'inet', 'nft_mwan', 'interface_ids', '{ type ipv4_addr : mark; }']);
    const before = await snapshot(lab, net.gw);
    // Adding wan3 means routing changes that must be undone when nft fails.
    const more = baseConfig();
    more.interfaces.wan3 = { device: 'wan3', gateway: W3.isp };
    const r = await cli(lab, net.gw, 'apply', '--config', configFile(more));
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/nft rejected the batch/);
    expect(await snapshot(lab, net.gw)).toBe(before);
    // Repair for the following tests: the stale map goes when the table is rebuilt by stop + apply.
    await cliOk(lab, net.gw, 'stop', '--config', config);
    await cliOk(lab, net.gw, 'apply', '--config', config);
  });

  it('stop removes exactly what nft-mwan installed; foreign tables, rules and table 220 are untouched throughout', async () => {
    dumpOnFailure();
    expect(await foreign()).toEqual(foreignBefore);
    await cliOk(lab, net.gw, 'stop', '--config', config);
    expect(await lab.sh(net.gw, 'nft', ['list', 'tables'])).not.toContain('nft_mwan');
    expect(await lab.sh(net.gw, 'ip', ['rule', 'show'])).not.toContain('proto 77');
    expect(await lab.sh(net.gw, 'ip', ['route', 'show', 'table', 'all', 'proto', '77'])).toBe('');
    expect(await foreign()).toEqual(foreignBefore);
  });
});
