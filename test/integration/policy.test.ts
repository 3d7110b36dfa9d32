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

  /** The addresses in a named set of the gateway's table, as nft lists them (timeout sets: without the timers). */
  const setMembers = async (name: string): Promise<string[]> => {
    const r = await lab.exec('gw', 'nft', ['-j', 'list', 'set', 'inet', 'nft_mwan', name]);
    const set = (JSON.parse(r.stdout) as { nftables: { set?: { elem?: unknown[] } }[] }).nftables.find((o) => o.set)?.set;
    const text = (e: unknown): string => {
      if (typeof e === 'string') return e;
      const o = e as { elem?: { val: unknown }; prefix?: { addr: string; len: number } };
      if (o.elem) return text(o.elem.val);
      if (o.prefix) return `${o.prefix.addr}/${o.prefix.len}`;
      return JSON.stringify(e);
    };
    return (set?.elem ?? []).map(text).sort();
  };
  /** Extra LAN hosts: more addresses on the LAN namespace's device, each a separate sticky source. */
  const addSources = async (addrs: readonly string[]) => {
    for (const a of addrs) await lab.ip(LAN.ns, ['addr', 'add', `${a}/${LAN.len}`, 'dev', LAN.dev]);
  };
  /** One new connection from `source` to SRV1; the WAN the server saw it through. */
  const wanFrom = async (source: string): Promise<'wan1' | 'wan2'> => {
    const r = await runTcpClient(lab, LAN.ns, { target: endpoint(SRV1, 5001), count: 1, source, timeoutMs: 3_000 });
    expect(r, `one connection from ${source}`).toMatchObject({ ok: 1 });
    return r.peers[W1.addr] === 1 ? 'wan1' : 'wan2';
  };
  const classifyListing = async () => (await lab.exec('gw', 'nft', ['list', 'chain', 'inet', 'nft_mwan', 'classify'])).stdout;

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
    await apply({
      interfaces,
      policies: { rr: { mode: 'roundrobin', members: [{ interface: 'wan1', weight: 3 }, { interface: 'wan2' }] } },
      rules: [{ name: 'all', policy: 'rr' }],
    });
    // Any 40 consecutive NEW connections through one numgen inc counter: exactly 30 and 10.
    expect(await flows(LAN.ns, SRV1, 40)).toEqual({ ok: 40, wan1: 30, wan2: 10 });
    await apply({
      interfaces,
      policies: { sh: { mode: 'srchash', members: [{ interface: 'wan1' }, { interface: 'wan2' }] } },
      rules: [{ name: 'all', policy: 'sh' }],
    });
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
    const listed = (JSON.parse(classify) as { nftables: { rule?: { comment?: string } }[] }).nftables.flatMap((o) => (o.rule ? [o.rule] : []));
    // ONE map for the 1,000, after a few fixed rules (local, bypass, IPv6) that do not grow with the rules.
    expect(listed.filter((r) => /^rules? /.test(r.comment ?? '')).map((r) => r.comment)).toEqual(['rules r0, r1, r2 ... r999 (1000)']);
    expect(listed.length).toBeLessThanOrEqual(5);
    expect(await flows(LAN.ns, SRV1, 10, 5)).toEqual({ ok: 10, wan1: 10, wan2: 0 });
    expect(await flows(LAN.ns, SRV2, 10, 5)).toEqual({ ok: 10, wan1: 0, wan2: 10 });
    const status = await cliOk(lab, 'gw', 'status', '--config', config);
    expect(status).toMatch(/in sync/);
  });

  it('a named set steers its destinations; set add/del/list change it at run time and re-apply keeps it', async () => {
    const named = (more: { elements?: string[]; rules?: unknown[] } = {}) => ({
      interfaces,
      sets: { pinned: { type: 'ipv4_addr', elements: ['203.0.113.0/24', ...(more.elements ?? [])] } },
      policies: wanOnly,
      rules: [...(more.rules ?? []), { name: 'pinned', set: 'pinned', policy: 'wan2_only' }, { name: 'rest', policy: 'wan1_only' }],
    });
    const config = await apply(named());
    expect(await flows(LAN.ns, SRV1, 5)).toMatchObject({ wan1: 5 });
    await cliOk(lab, 'gw', 'set', 'add', 'pinned', SRV1, '--config', config);
    expect(await flows(LAN.ns, SRV1, 5)).toMatchObject({ wan2: 5 });
    // A re-apply with nothing changed is a no-op; one that changes the batch (a new rule ahead, a new config
    // element) runs a transaction that re-declares the set, and the run-time element must survive it.
    expect((await cli(lab, 'gw', 'apply', '--config', config)).stderr).toMatch(/already up to date/);
    const changed = await apply(named({ elements: ['198.18.0.0/15'], rules: [{ name: 'extra', srcIface: ['nosuchdev0'], policy: 'wan1_only' }] }));
    expect(await classifyListing()).toMatch(/comment "rule extra"/);
    expect(await setMembers('pinned')).toEqual(['192.0.2.10', '198.18.0.0/15', '203.0.113.0/24']);
    expect((await cliOk(lab, 'gw', 'set', 'list', 'pinned', '--config', changed)).split('\n').filter(Boolean).sort()).toEqual([
      '192.0.2.10',
      '198.18.0.0/15',
      '203.0.113.0/24',
    ]);
    expect(await flows(LAN.ns, SRV1, 5)).toMatchObject({ wan2: 5 });
    await cliOk(lab, 'gw', 'set', 'del', 'pinned', SRV1, '--config', config);
    expect(await flows(LAN.ns, SRV1, 5)).toMatchObject({ wan1: 5 });
    const bad = await cli(lab, 'gw', 'set', 'add', 'nope', SRV1, '--config', config);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/no set "nope"/);
  });

  it(
    "sticky: every source stays in its WAN's set across a re-apply that changes the batch; " + "an offline WAN's sources are rebalanced, the other WAN's kept",
    async () => {
      // Four LAN hosts; round robin splits their first connections exactly 2:2, so both WANs have stuck sources.
      const sources = ['192.168.10.31', '192.168.10.32', '192.168.10.33', '192.168.10.34'];
      await addSources(sources);
      const sticky = (weight2: number, extra: unknown[] = []) => ({
        interfaces,
        policies: { balanced: { mode: 'roundrobin', members: [{ interface: 'wan1' }, { interface: 'wan2', weight: weight2 }] } },
        rules: [...extra, { name: 'web', proto: 'tcp', destPort: [5001], policy: 'balanced', sticky: true, stickyTimeout: 600 }],
      });
      const d = await startDaemon(lab, sticky(1));
      last = d.configPath;
      try {
        const wanOf = new Map<string, 'wan1' | 'wan2'>();
        for (const s of sources) wanOf.set(s, await wanFrom(s));
        const on = (wan: string) => sources.filter((s) => wanOf.get(s) === wan).sort();
        expect([on('wan1').length, on('wan2').length]).toEqual([2, 2]);
        // Every source is in its WAN's set, and only there.
        expect(await setMembers('sticky_web_wan1')).toEqual(on('wan1'));
        expect(await setMembers('sticky_web_wan2')).toEqual(on('wan2'));

        // A re-apply that changes the batch (a new rule ahead of web, wan2's weight 1 -> 3): the sets are kept as they are.
        d.writeConfig(sticky(3, [{ name: 'extra', srcIface: ['nosuchdev0'], policy: 'balanced' }]));
        await cliOk(lab, 'gw', 'apply', '--config', d.configPath, '--state-dir', d.stateDir);
        expect(await classifyListing()).toMatch(/comment "rule extra"/);
        expect(await setMembers('sticky_web_wan1')).toEqual(on('wan1'));
        expect(await setMembers('sticky_web_wan2')).toEqual(on('wan2'));
        // ...and each source's new connections still go where it is stuck, to either destination.
        for (const s of sources) {
          const r = await runTcpClient(lab, LAN.ns, { target: endpoint(SRV2, 5001), count: 3, source: s, timeoutMs: 3_000 });
          expect(r, s).toMatchObject({ ok: 3, peers: { [wanOf.get(s) === 'wan1' ? W1.addr : W2.addr]: 3 } });
        }

        // wan1 offline: its set is flushed and its sources are rebalanced (to wan2, the only member left);
        // the sources stuck to wan2 stay in wan2's set, untouched.
        await cliOk(lab, 'gw', 'ifdown', 'wan1', '--state-dir', d.stateDir);
        expect(await setMembers('sticky_web_wan1')).toEqual([]);
        expect(await setMembers('sticky_web_wan2')).toEqual(on('wan2'));
        for (const s of sources) expect(await wanFrom(s), s).toBe('wan2');
        expect(await setMembers('sticky_web_wan2')).toEqual([...sources].sort());
        // wan1 back: nobody is stuck to it, and everyone stays on wan2, where they are now stuck.
        await cliOk(lab, 'gw', 'ifup', 'wan1', '--state-dir', d.stateDir);
        await d.waitFor('wan1', 'online');
        expect(await setMembers('sticky_web_wan1')).toEqual([]);
        expect(await setMembers('sticky_web_wan2')).toEqual([...sources].sort());
        for (const s of sources) expect(await wanFrom(s), s).toBe('wan2');
      } finally {
        await d.stop();
      }
    },
  );

  it('sticky expiry: after stickyTimeout without new connections the entry is gone and the source is balanced afresh', async () => {
    const source = '192.168.10.41';
    await addSources([source]);
    await apply({
      interfaces,
      policies: { balanced: { mode: 'roundrobin', members: [{ interface: 'wan1' }, { interface: 'wan2' }] } },
      rules: [{ name: 'web', proto: 'tcp', destPort: [5001], policy: 'balanced', sticky: true, stickyTimeout: 2 }],
    });
    const first = await wanFrom(source);
    const other = first === 'wan1' ? 'wan2' : 'wan1';
    expect(await setMembers(`sticky_web_${first}`)).toEqual([source]);
    // Within the timeout the source stays (and no balancing decision is taken for it).
    expect(await wanFrom(source)).toBe(first);
    const t0 = performance.now();
    await lab.waitFor(async () => (await setMembers(`sticky_web_${first}`)).length === 0, {
      timeoutMs: 10_000,
      intervalMs: 200,
      what: `${source} to expire from sticky_web_${first}`,
    });
    // Refreshed by the second connection, so never gone sooner than about the timeout.
    expect(performance.now() - t0).toBeGreaterThan(1_000);
    // The next round-robin decision is the other WAN: the source was balanced, not sent back from a stale entry.
    expect(await wanFrom(source)).toBe(other);
    expect(await setMembers(`sticky_web_${other}`)).toEqual([source]);
    expect(await setMembers(`sticky_web_${first}`)).toEqual([]);
  });

  it("srcIface rules pick by input device; the router's own connections follow the rules; use WAN -- CMD", async () => {
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
