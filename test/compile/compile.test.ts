// compile() as an orchestrator: the batch's sections in their order (the golden files pin their contents).
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { EMPTY_FACTS } from '../../src/model/facts.js';
import { chainName } from '../../src/model/names.js';
import { resolved } from './fixtures.js';

const config = resolved({
  interfaces: { wan1: { device: 'eth1', gateway: '192.0.2.1', family: 'both', gateway6: 'fe80::1' }, wan2: { device: 'eth2', gateway: '192.0.2.2' } },
  policies: { p: { members: [{ interface: 'wan1' }, { interface: 'wan2' }] } },
  sets: { vpn: { type: 'ipv4_addr' } },
  rules: [
    { name: 'web', proto: 'tcp', destPort: [443], policy: 'p', sticky: true },
    { name: 'rest', policy: 'p' },
  ],
});

/** "verb kind" of each command, consecutive repeats collapsed. */
const sections = (commands: Record<string, unknown>[]) =>
  commands
    .map((c) => {
      const [verb, body] = Object.entries(c)[0] as [string, object];
      return `${verb} ${Object.keys(body)[0]}`;
    })
    .filter((s, i, all) => s !== all[i - 1]);

describe('compile', () => {
  it('empties the table, deletes what is stale, declares every object, then adds the rules', () => {
    const facts = { ...EMPTY_FACTS, installed: { chains: ['gone'], sets: ['old'], maps: [], counters: ['rx_old'] } };
    expect(sections(compile(config, facts).nft.nftables)).toEqual([
      'add table',
      'flush table',
      'delete chain',
      'delete set',
      'delete counter',
      'add counter',
      'add chain',
      // bypass_v4, bypass_v6, then the named set and the sticky sets
      'add set',
      'flush set',
      'add element',
      'add set',
      'flush set',
      'add element',
      'add set',
      'add map',
      'flush map',
      'add element',
      // the owner mark
      'add set',
      'add rule',
    ]);
  });

  it("fills the plan from the stages: interfaces by id, both families' policies, the named and sticky sets", () => {
    const plan = compile(config, EMPTY_FACTS, { wan2: 'offline' });
    expect(plan.interfaces.map((i) => [i.name, i.online])).toEqual([
      ['wan1', true],
      ['wan2', false],
    ]);
    expect(plan.policies[0]?.members.map((m) => m.active)).toEqual([true, false]);
    expect(plan.policies6[0]?.members.map((m) => m.active)).toEqual([true, false]);
    expect(plan.dynamicSets).toEqual(['vpn']);
    expect(plan.stickySets).toEqual(['sticky_web_wan1', 'sticky6_web_wan1', 'sticky_web_wan2']);
    expect(plan.routing.tables).toEqual(plan.interfaces.map((i) => i.table));
  });
});

describe('compile with a WAN the live system does not offer yet', () => {
  it('keeps that WAN out of every policy and its table without a route, the other WAN carrying everything', () => {
    const facts = { ...EMPTY_FACTS, devices: ['eth2'], subnets: { eth2: ['192.0.2.0/24'] } };
    const p = compile(config, facts);
    expect(p.warnings).toEqual([expect.stringMatching(/^\/interfaces\/wan1\/device: /)]);
    expect(p.policies[0]?.members.map((m) => [m.interface, m.active, m.share])).toEqual([
      ['wan1', false, 0],
      ['wan2', true, 1],
    ]);
    const wan1 = p.interfaces.find((i) => i.name === 'wan1');
    expect(p.routing.routes.filter((r) => r.table === wan1?.table)).toEqual([]);
    expect(p.routing.routes.filter((r) => r.dev === 'eth2')).toHaveLength(1);
  });

  describe('IPv6 with no WAN carrying it (globals.ipv6WithoutWan)', () => {
    const v4only = (ipv6WithoutWan?: 'main' | 'lastResort') =>
      compile(
        resolved({
          interfaces: { wan: { device: 'eth1', gateway: '192.0.2.1' }, wan6: { device: 'eth2', family: 'ipv6', gateway6: 'fe80::1', enabled: false } },
          policies: { p: { members: [{ interface: 'wan' }, { interface: 'wan6' }] }, q: { members: [{ interface: 'wan' }], lastResort: 'blackhole' } },
          rules: [{ name: 'all', policy: 'p' }],
          ...(ipv6WithoutWan ? { globals: { ipv6WithoutWan } } : {}),
        }),
        EMPTY_FACTS,
      );
    const rulesOf = (plan: ReturnType<typeof compile>, chain: string) =>
      plan.nft.nftables.flatMap((c) => {
        const rule = (c as { add?: { rule?: { chain: string; expr: unknown[] } } }).add?.rule;
        return rule?.chain === chain ? [JSON.stringify(rule.expr)] : [];
      });

    it('"main" (the default): classify accepts IPv6 unmarked, and no IPv6 ip rule is planned', () => {
      for (const plan of [v4only(), v4only('main')]) {
        expect(rulesOf(plan, 'classify')).toContain(
          JSON.stringify([{ match: { op: '==', left: { meta: { key: 'nfproto' } }, right: 'ipv6' } }, { accept: null }]),
        );
        expect(plan.policies6).toEqual([]);
        expect(plan.routing.rules.filter((r) => r.family === 6)).toEqual([]);
      }
    });

    it('"lastResort": every policy gives IPv6 its last resort, whose marks get IPv6 ip rules', () => {
      const plan = v4only('lastResort');
      expect(plan.policies6.map((p) => [p.name, p.usingLastResort, p.lastResort])).toEqual([
        ['p', true, 'unreachable'],
        ['q', true, 'blackhole'],
      ]);
      expect(rulesOf(plan, 'policy_p')).toContain(
        JSON.stringify([{ match: { op: '==', left: { meta: { key: 'nfproto' } }, right: 'ipv6' } }, { goto: { target: 'mark__unreachable' } }]),
      );
      expect(plan.routing.rules.filter((r) => r.family === 6).map((r) => r.action)).toEqual(['unreachable', 'blackhole']);
    });
  });

  it('a config without interfaces compiles to a table that balances nothing, with a warning', () => {
    const plan = compile(resolved({ interfaces: {}, policies: {}, rules: [{ name: 'all', policy: 'unreachable' }] }), EMPTY_FACTS);
    expect(plan.warnings).toContainEqual(expect.stringMatching(/^no interfaces: nothing is balanced/));
    expect(plan.interfaces).toEqual([]);
    expect(plan.routing.tables).toEqual([]);
    expect(plan.routing.routes).toEqual([]);
  });
});

describe('compile with a state per family (track6)', () => {
  const dual = resolved({
    interfaces: {
      ds1: {
        device: 'eth1',
        gateway: '192.0.2.1',
        family: 'both',
        gateway6: 'fe80::1',
        track: { targets: ['192.0.2.100'] },
        track6: { targets: ['2001:db8::100'] },
      },
      ds2: {
        device: 'eth2',
        gateway: '192.0.2.2',
        family: 'both',
        gateway6: 'fe80::2',
        track: { targets: ['192.0.2.100'] },
        track6: { targets: ['2001:db8::100'] },
      },
    },
    policies: { p: { members: [{ interface: 'ds1' }, { interface: 'ds2' }], lastResort: 'unreachable' } },
    rules: [
      { name: 'web', proto: 'tcp', destPort: [443], policy: 'p', sticky: true },
      { name: 'rest', policy: 'p' },
    ],
  });
  const active = (ps: { members: { interface: string; active: boolean }[]; usingLastResort: boolean }[]) =>
    ps.map((p) => [p.members.filter((m) => m.active).map((m) => m.interface), p.usingLastResort]);
  const verdicts = (plan: ReturnType<typeof compile>) =>
    plan.nft.nftables.flatMap((c) => {
      const rule = (c as { add?: { rule?: { chain: string; expr: unknown[] } } }).add?.rule;
      return rule?.chain === 'policy_p' ? [JSON.stringify(rule.expr)] : [];
    });

  it('IPv4 online and IPv6 offline on both WANs: IPv4 balances over both, IPv6 takes the last resort', () => {
    const plan = compile(dual, EMPTY_FACTS, { ds1: { ipv4: 'online', ipv6: 'offline' }, ds2: { ipv4: 'online', ipv6: 'offline' } });
    expect(active(plan.policies)).toEqual([[['ds1', 'ds2'], false]]);
    expect(active(plan.policies6)).toEqual([[[], true]]);
    const rules = verdicts(plan);
    expect(rules).toHaveLength(2);
    expect(rules.find((r) => r.includes('"ipv4"'))).toContain('numgen');
    expect(rules.find((r) => r.includes('"ipv6"'))).toContain(chainName.mark(chainName.special('unreachable')));
    expect(plan.interfaces.map((i) => [i.online, i.online6, i.linkUp])).toEqual([
      [true, false, true],
      [true, false, true],
    ]);
  });

  it('one WAN IPv6-offline: IPv6 connections go to the other, IPv4 ones still to both; its IPv6 sticky set is flushed', () => {
    const plan = compile(dual, EMPTY_FACTS, { ds1: { ipv4: 'online', ipv6: 'offline' }, ds2: 'online' });
    expect(active(plan.policies)).toEqual([[['ds1', 'ds2'], false]]);
    expect(active(plan.policies6)).toEqual([[['ds2'], false]]);
    const installed = { type: 'ipv6_addr', timeout: 600 };
    const facts = { ...EMPTY_FACTS, installedSets: { sticky6_web_ds1: installed, sticky_web_ds1: { type: 'ipv4_addr', timeout: 600 } } };
    const flushed = compile(dual, facts, { ds1: { ipv4: 'online', ipv6: 'offline' }, ds2: 'online' })
      .nft.nftables.flatMap((c) =>
        (c as { flush?: { set?: { name: string } } }).flush?.set ? [(c as { flush: { set: { name: string } } }).flush.set.name] : [],
      )
      .filter((n) => n.startsWith('sticky'));
    expect(flushed).toEqual(['sticky6_web_ds1']);
  });

  it('the device down takes both families down: no route in either', () => {
    const plan = compile(dual, EMPTY_FACTS, { ds1: { ipv4: 'down', ipv6: 'down' } });
    expect(plan.interfaces[0]?.linkUp).toBe(false);
    expect(plan.routing.routes.filter((r) => r.dev === 'eth1')).toEqual([]);
  });

  it('one state for both families keeps the plan as it was (no online6)', () => {
    const plan = compile(dual, EMPTY_FACTS, { ds1: 'offline' });
    expect(plan.interfaces[0]).not.toHaveProperty('online6');
    expect(active(plan.policies6)).toEqual([[['ds2'], false]]);
  });
});
