// Sticky rules: their timeout sets per (rule, WAN, family), and the chains that consult and fill them.
import { describe, expect, it } from 'vitest';
import { planPolicies } from '../../src/compile/policies.js';
import { planSticky, stickyChainRules } from '../../src/compile/sticky.js';
import type { PlannedInterface } from '../../src/model/plan.js';
import { byName, planned, resolved } from './fixtures.js';

const config = (rule: Record<string, unknown>, policy: Record<string, unknown> = {}) =>
  resolved({
    interfaces: {
      wan1: { device: 'eth1', gateway: '192.0.2.1', family: 'both' },
      wan2: { device: 'eth2', gateway: '192.0.2.2' },
      wan3: { device: 'eth3', gateway: '192.0.2.3' },
    },
    policies: { p: { members: [{ interface: 'wan1' }, { interface: 'wan2' }, { interface: 'wan3' }], ...policy } },
    rules: [
      { name: 'web', policy: 'p', sticky: true, stickyTimeout: 60, ...rule },
      { name: 'rest', policy: 'p' },
    ],
  });

const interfaces = (over: Partial<Record<string, Partial<PlannedInterface>>> = {}) =>
  byName([planned('wan1', 1, { family: 'both', ...over.wan1 }), planned('wan2', 2, over.wan2), planned('wan3', 3, over.wan3)]);

const plan = (c: ReturnType<typeof config>, ifaces = interfaces()) => {
  const policies = planPolicies(c, ifaces, 'ipv4');
  const policies6 = planPolicies(c, ifaces, 'ipv6');
  return { sticky: planSticky(c, policies, ifaces), policies, policies6, byName: ifaces };
};

describe('planSticky', () => {
  it('plans one set per enabled member and family the member carries, for sticky rules only', () => {
    const { sticky } = plan(config({}), interfaces({ wan3: { enabled: false, online: false } }));
    expect(sticky.rules.map((r) => [r.rule, r.policy])).toEqual([['web', 'p']]);
    expect(sticky.sets).toEqual([
      { name: 'sticky_web_wan1', type: 'ipv4_addr', timeout: 60, online: true },
      { name: 'sticky6_web_wan1', type: 'ipv6_addr', timeout: 60, online: true },
      { name: 'sticky_web_wan2', type: 'ipv4_addr', timeout: 60, online: true },
    ]);
  });

  it.each([
    ['by source, the key is the source address', 'src', 'ipv4_addr', { payload: { protocol: 'ip', field: 'saddr' } }],
    [
      'by source and destination, the key is both',
      'srcdst',
      ['ipv4_addr', 'ipv4_addr'],
      { concat: [{ payload: { protocol: 'ip', field: 'saddr' } }, { payload: { protocol: 'ip', field: 'daddr' } }] },
    ],
  ])('%s', (_name, stickyBy, type, key) => {
    const { sticky } = plan(config({ stickyBy }));
    expect(sticky.sets.find((s) => s.name === 'sticky_web_wan2')?.type).toEqual(type);
    expect(sticky.rules[0]?.key('ipv4')).toEqual(key);
  });

  it('marks the set of an offline WAN, so that it is flushed', () => {
    expect(plan(config({}), interfaces({ wan2: { online: false } })).sticky.sets.find((s) => s.name === 'sticky_web_wan2')?.online).toBe(false);
  });
});

describe('stickyChainRules', () => {
  const rules = (v6: boolean, ifaces = interfaces(), c = config({})) => {
    const p = plan(c, ifaces);
    return stickyChainRules({ ...p, policies6: v6 ? p.policies6 : [], v6 }).map((r) => [r.chain, JSON.stringify(r.expr)] as const);
  };

  it("looks a source up in the active members' sets in member order, then lets the policy choose through the stick chains", () => {
    const out = rules(false, interfaces({ wan2: { online: false } }));
    expect(out.filter(([chain]) => chain === 'sticky_web').map(([, e]) => e)).toEqual([
      expect.stringMatching(/"@sticky_web_wan1".*"mark_wan1"/),
      expect.stringMatching(/"@sticky_web_wan3".*"mark_wan3"/),
      expect.stringMatching(/"numgen".*"stick_web_wan1".*"stick_web_wan3"/),
    ]);
    // Every member's stick chain, active or not: a state change then only rewrites rules.
    expect(out.filter(([chain]) => chain.startsWith('stick_')).map(([chain]) => chain)).toEqual(['stick_web_wan1', 'stick_web_wan2', 'stick_web_wan3']);
  });

  it.each([
    ['without an IPv6 WAN the verdict has no family test', false, 'random', [false]],
    ["with one, each family's verdict tests its family", true, 'random', [true, true]],
    ['a source hash over several WANs implies its family: no test', true, 'srchash', [false, false]],
  ])('%s', (_name, v6, mode, tested) => {
    const out = rules(v6, interfaces({ wan2: { family: 'both' } }), config({}, { mode }));
    const verdicts = out.filter(([chain, e]) => chain === 'sticky_web' && !e.includes('"update"'));
    expect(verdicts.map(([, e]) => e.includes('"nfproto"'))).toEqual(tested);
  });

  it('fills the IPv6 sets from the IPv6 view, only for the WANs that carry IPv6', () => {
    const out = rules(true);
    expect(out.filter(([chain]) => chain.startsWith('stick6_')).map(([chain, e]) => [chain, e.includes('"@sticky6_web_wan1"')])).toEqual([
      ['stick6_web_wan1', true],
    ]);
  });
});
