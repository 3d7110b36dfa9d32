// The policy language in the lab: balancing modes, 1,000 rules at flat cost, named sets, sticky sessions,
// input devices, the router's own traffic and `nft-mwan use`.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { agentPath, endpoint, runTcpClient, startTcpServer } from '../../lab/agents.js';
import { Lab } from '../../lab/netns.js';
import { buildMultiWan, LAB_NET } from '../../lab/topology.js';
import { describeLab } from '../../lab/vitest.js';
import { BIN, cli, cliOk, configFile } from './helpers.js';
import { startDaemon } from './daemon-helpers.js';

const W1 = LAB_NET.wan[1];
const W2 = LAB_NET.wan[2];
const [SRV1, SRV2] = LAB_NET.server.addrs as [string, string];
const { lan: LAN, lan2: LAN2 } = LAB_NET;

const interfaces = { wan1: { device: 'wan1', gateway: 'auto' }, wan2: { device: 'wan2', gateway: 'auto' } };
const wanOnly = { wan1_only: { members: [{ interface: 'wan1' }] }, wan2_only: { members: [{ interface: 'wan2' }] } };

describeLab('policy language', () => {
  const lab = new Lab();
  let last: string | null = null;

  const apply = async (config: unknown) => {
    last = configFile(config);
    await cliOk(lab, 'gw', 'apply', '--config', last);
    return last;
  };
  /** New connections from `ns` to `target`, one at a time; how many the server saw from each WAN. */
  const flows = async (ns: string, target: string, count: number, concurrency = 1) => {
    const r = await runTcpClient(lab, ns, { target: endpoint(target, 5001), count, concurrency, timeoutMs: 3_000 });
    return { ok: r.ok, wan1: r.peers[W1.addr] ?? 0, wan2: r.peers[W2.addr] ?? 0 };
  };

  beforeAll(async () => {
    await buildMultiWan(lab, { wans: 2 });
    await startTcpServer(lab, 'srv', [endpoint(SRV1, 5001), endpoint(SRV2, 5001)]);
  });
  afterEach(async () => {
    if (last) await cli(lab, 'gw', 'stop', '--config', last);
    last = null;
  });
  afterAll(async () => {
    await lab.teardown();
  });

  it('roundrobin splits 3:1 exactly; srchash keeps every source on one WAN', async () => {
    await apply({ interfaces, policies: { rr: { mode: 'roundrobin', members: [{ interface: 'wan1', weight: 3 }, { interface: 'wan2' }] } }, rules: [{ name: 'all', policy: 'rr' }] });
    // Any 40 consecutive NEW connections through one numgen inc counter: exactly 30 and 10.
    expect(await flows(LAN.ns, SRV1, 40)).toEqual({ ok: 40, wan1: 30, wan2: 10 });
    await apply({ interfaces, policies: { sh: { mode: 'srchash', members: [{ interface: 'wan1' }, { interface: 'wan2' }] } }, rules: [{ name: 'all', policy: 'sh' }] });
    for (const ns of [LAN.ns, LAN2.ns]) {
      const r = await flows(ns, SRV1, 20, 5);
      expect(r.ok).toBe(20);
      expect([r.wan1, r.wan2].sort()).toEqual([0, 20]);
      // Re-applying does not reshuffle: the seed is fixed.
      await cliOk(lab, 'gw', 'apply', '--config', last as string);
      const again = await flows(ns, SRV1, 5);
      expect(again.wan1 === 5).toBe(r.wan1 === 20);
    }
  });

  it('1,000 rules compile to a few lookups and still pick exactly the right WAN', async () => {
    const rules = [];
    for (let i = 0; i < 1000; i++) {
      // 1,000 distinct /32s in 203.0.112.0/22, alternating WANs, with the lab's two servers among them.
      const addr = i === 500 ? SRV1 : i === 501 ? SRV2 : `203.0.${112 + Math.floor(i / 250)}.${i % 250}`;
      rules.push({ name: `r${i}`, destIp: [`${addr}/32`], policy: i % 2 === 0 ? 'wan1_only' : 'wan2_only' });
    }
    const config = await apply({ interfaces, policies: wanOnly, rules });
    const classify = (await lab.exec('gw', 'nft', ['-j', 'list', 'chain', 'inet', 'nft_mwan', 'classify'])).stdout;
    const n = (JSON.parse(classify) as { nftables: { rule?: unknown }[] }).nftables.filter((o) => o.rule).length;
    // The three fixed rules (local, IPv4 bypass, IPv6 left alone) and ONE map for the 1,000.
    expect(n).toBe(4);
    expect(await flows(LAN.ns, SRV1, 10, 5)).toEqual({ ok: 10, wan1: 10, wan2: 0 });
    expect(await flows(LAN.ns, SRV2, 10, 5)).toEqual({ ok: 10, wan1: 0, wan2: 10 });
    const status = await cliOk(lab, 'gw', 'status', '--config', config);
    expect(status).toMatch(/in sync/);
  });

  it('a named set steers its destinations; set add/del/list change it at run time and re-apply keeps it', async () => {
    const config = await apply({
      interfaces,
      sets: { pinned: { type: 'ipv4_addr', elements: ['203.0.113.0/24'] } },
      policies: wanOnly,
      rules: [{ name: 'pinned', set: 'pinned', policy: 'wan2_only' }, { name: 'rest', policy: 'wan1_only' }],
    });
    expect(await flows(LAN.ns, SRV1, 5)).toMatchObject({ wan1: 5 });
    await cliOk(lab, 'gw', 'set', 'add', 'pinned', SRV1, '--config', config);
    expect(await flows(LAN.ns, SRV1, 5)).toMatchObject({ wan2: 5 });
    // A re-apply (here with nothing changed, then a forced one through a config edit) keeps run-time elements.
    await cliOk(lab, 'gw', 'apply', '--config', config);
    expect((await cliOk(lab, 'gw', 'set', 'list', 'pinned', '--config', config)).split('\n').filter(Boolean).sort()).toEqual(['192.0.2.10', '203.0.113.0/24']);
    expect(await flows(LAN.ns, SRV1, 5)).toMatchObject({ wan2: 5 });
    await cliOk(lab, 'gw', 'set', 'del', 'pinned', SRV1, '--config', config);
    expect(await flows(LAN.ns, SRV1, 5)).toMatchObject({ wan1: 5 });
    const bad = await cli(lab, 'gw', 'set', 'add', 'nope', SRV1, '--config', config);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/no set "nope"/);
  });

  it('sticky: a source keeps its WAN, across re-applies; never a WAN that went offline', async () => {
    const d = await startDaemon(lab, {
      interfaces,
      policies: { balanced: { members: [{ interface: 'wan1' }, { interface: 'wan2' }] } },
      rules: [{ name: 'web', proto: 'tcp', destPort: [5001], policy: 'balanced', sticky: true, stickyTimeout: 600 }],
    });
    last = d.configPath;
    try {
      const first = await flows(LAN.ns, SRV1, 20, 5);
      expect(first.ok).toBe(20);
      expect([first.wan1, first.wan2].sort()).toEqual([0, 20]);
      const stuck = first.wan1 === 20 ? 'wan1' : 'wan2';
      const other = stuck === 'wan1' ? 'wan2' : 'wan1';
      // Another source is balanced independently (not asserted: it may land on either), and re-applies keep entries.
      await cliOk(lab, 'gw', 'apply', '--config', d.configPath, '--state-dir', d.stateDir);
      expect(await flows(LAN.ns, SRV2, 10, 5)).toMatchObject({ ok: 10, [stuck]: 10 });
      await cliOk(lab, 'gw', 'ifdown', stuck, '--state-dir', d.stateDir);
      expect(await flows(LAN.ns, SRV1, 10, 5)).toMatchObject({ ok: 10, [other]: 10 });
      await cliOk(lab, 'gw', 'ifup', stuck, '--state-dir', d.stateDir);
      // Rebalanced while it was out, the source now sticks to the other WAN.
      expect(await flows(LAN.ns, SRV1, 10, 5)).toMatchObject({ ok: 10, [other]: 10 });
    } finally {
      await d.stop();
    }
  });

  it('srcIface rules pick by input device; the router\'s own connections follow the rules; use WAN -- CMD', async () => {
    const config = await apply({
      interfaces,
      policies: wanOnly,
      rules: [
        { name: 'from_lan2', srcIface: [LAN2.gwDev], policy: 'wan2_only' },
        { name: 'srv2', destIp: [`${SRV2}/32`], policy: 'wan2_only' },
        { name: 'rest', policy: 'wan1_only' },
      ],
    });
    expect(await flows(LAN2.ns, SRV1, 5)).toMatchObject({ ok: 5, wan2: 5 });
    expect(await flows(LAN.ns, SRV1, 5)).toMatchObject({ ok: 5, wan1: 5 });
    // From the gateway itself: the main table says wan1, the rule says wan2; masquerade fixes the source.
    expect(await flows('gw', SRV2, 5)).toMatchObject({ ok: 5, wan2: 5 });
    expect(await flows('gw', SRV1, 5)).toMatchObject({ ok: 5, wan1: 5 });
    // use: this process's connections leave through wan2 whatever the rules say.
    const args = [agentPath('tcp-client'), '--target', endpoint(SRV1, 5001), '--count', '5', '--concurrency', '1', '--timeout-ms', '3000'];
    const used = await lab.exec('gw', BIN, ['use', 'wan2', '--config', config, '--', process.execPath, ...args]);
    const r = JSON.parse(used.stdout.trim().split('\n').at(-1) as string) as { ok: number; peers: Record<string, number> };
    expect(r).toMatchObject({ ok: 5, peers: { [W2.addr]: 5 } });
  });
});
