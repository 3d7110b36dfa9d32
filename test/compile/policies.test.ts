// Policies per family, the verdict that spreads their NEW connections, and one chain per policy.
import { describe, expect, it } from 'vitest';
import { perFamily, planPolicies, policyChainRules, policyVerdict, seedOf } from '../../src/compile/policies.js';
import type { PlannedPolicy } from '../../src/model/plan.js';
import { byName, planned, resolved } from './fixtures.js';

const config = (members: Record<string, unknown>[], extra: Record<string, unknown> = {}) =>
  resolved({
    interfaces: {
      wan1: { device: 'eth1', gateway: '192.0.2.1' },
      wan2: { device: 'eth2', gateway: '192.0.2.2' },
      wan3: { device: 'eth3', gateway: '192.0.2.3' },
    },
    policies: { p: { members, ...extra } },
  });
const wans = (over: Record<string, Partial<Parameters<typeof planned>[2]>> = {}) =>
  byName([planned('wan1', 1, over.wan1), planned('wan2', 2, over.wan2), planned('wan3', 3, over.wan3)]);

const policy = (members: [string, number, boolean][], over: Partial<PlannedPolicy> = {}): PlannedPolicy => ({
  name: 'p',
  mode: 'random',
  lastResort: 'unreachable',
  members: members.map(([iface, weight, active]) => ({ interface: iface, metric: 1, weight, active, share: 0 })),
  usingLastResort: false,
  ...over,
});

describe('planPolicies', () => {
  it.each<[string, Record<string, unknown>[], Parameters<typeof wans>[0], [string, boolean, number][], boolean]>([
    [
      'online members of the lowest metric share by weight',
      [{ interface: 'wan1', weight: 3 }, { interface: 'wan2' }, { interface: 'wan3', metric: 2 }],
      {},
      [
        ['wan1', true, 0.75],
        ['wan2', true, 0.25],
        ['wan3', false, 0],
      ],
      false,
    ],
    [
      'an offline tier gives way to the next',
      [{ interface: 'wan1' }, { interface: 'wan3', metric: 2 }],
      { wan1: { online: false } },
      [
        ['wan1', false, 0],
        ['wan3', true, 1],
      ],
      false,
    ],
    [
      'no member online: the last resort is in force',
      [{ interface: 'wan1' }, { interface: 'wan2' }],
      { wan1: { online: false }, wan2: { online: false } },
      [
        ['wan1', false, 0],
        ['wan2', false, 0],
      ],
      true,
    ],
  ])('%s', (_name, members, over, expected, lastResort) => {
    const [p] = planPolicies(config(members), wans(over), 'ipv4');
    expect(p?.members.map((m) => [m.interface, m.active, m.share])).toEqual(expected);
    expect(p?.usingLastResort).toBe(lastResort);
  });

  it.each([
    [
      'IPv4 does not count an IPv6-only WAN',
      'ipv4',
      [
        ['wan1', false],
        ['wan2', true],
      ],
    ],
    [
      'IPv6 counts only the WAN that carries it',
      'ipv6',
      [
        ['wan1', true],
        ['wan2', false],
      ],
    ],
  ] as const)('%s', (_name, family, expected) => {
    const interfaces = wans({ wan1: { family: 'ipv6' } });
    const [p] = planPolicies(config([{ interface: 'wan1' }, { interface: 'wan2' }]), interfaces, family);
    expect(p?.members.map((m) => [m.interface, m.active])).toEqual(expected);
  });
});

describe('policyVerdict', () => {
  it.each([
    [
      "no active member goes to the last resort's mark chain",
      policy([['wan1', 1, false]], { lastResort: 'blackhole' }),
      { goto: { target: 'mark__blackhole' } },
    ],
    [
      'one active member goes straight to its chain',
      policy([
        ['wan1', 1, false],
        ['wan2', 1, true],
      ]),
      { goto: { target: 'mark_wan2' } },
    ],
  ])('%s', (_name, p, stmt) => {
    expect(policyVerdict(p)).toEqual({ stmt, impliesFamily: false });
  });

  it('spreads several over a numgen range per member, the weights reduced by their gcd', () => {
    const v = policyVerdict(
      policy([
        ['wan1', 2, true],
        ['wan2', 4, true],
      ]),
    );
    expect(v.stmt).toEqual({
      vmap: {
        key: { numgen: { mode: 'random', mod: 3, offset: 0 } },
        data: {
          set: [
            [0, { goto: { target: 'mark_wan1' } }],
            [{ range: [1, 2] }, { goto: { target: 'mark_wan2' } }],
          ],
        },
      },
    });
    expect(v.impliesFamily).toBe(false);
  });

  it.each([
    ['roundrobin counts up', 'roundrobin', 'inc'],
    ['random draws', 'random', 'random'],
  ] as const)('%s', (_name, mode, numgen) => {
    expect(
      JSON.stringify(
        policyVerdict(
          policy(
            [
              ['wan1', 1, true],
              ['wan2', 1, true],
            ],
            { mode },
          ),
        ).stmt,
      ),
    ).toContain(`"mode":"${numgen}"`);
  });

  it.each([
    ['IPv4 hashes ip saddr', 'ipv4', 'ip'],
    ['IPv6 hashes ip6 saddr', 'ipv6', 'ip6'],
  ] as const)('srchash %s with the seed of the policy name, which implies the family', (_name, family, protocol) => {
    const v = policyVerdict(
      policy(
        [
          ['wan1', 1, true],
          ['wan2', 1, true],
        ],
        { mode: 'srchash', name: 'hash' },
      ),
      (i) => `to_${i}`,
      family,
    );
    expect((v.stmt.vmap as { key: unknown }).key).toEqual({ jhash: { mod: 2, seed: seedOf('hash'), expr: { payload: { protocol, field: 'saddr' } } } });
    expect(JSON.stringify(v.stmt)).toContain('"to_wan2"');
    expect(v.impliesFamily).toBe(true);
  });
});

describe('perFamily', () => {
  const goto = (target: string) => ({ stmt: { goto: { target } }, impliesFamily: false });
  const nfproto = (family: string) => ({ match: { op: '==', left: { meta: { key: 'nfproto' } }, right: family } });

  it.each([
    ['no IPv6 view: one rule', goto('a'), undefined, [[{ goto: { target: 'a' } }]]],
    ['the same verdict for both: one rule', goto('a'), goto('a'), [[{ goto: { target: 'a' } }]]],
    [
      'different verdicts: one rule per family, each testing its family',
      goto('a'),
      goto('b'),
      [
        [nfproto('ipv4'), { goto: { target: 'a' } }],
        [nfproto('ipv6'), { goto: { target: 'b' } }],
      ],
    ],
    [
      'a verdict that implies its family needs no test',
      { stmt: { vmap: 4 }, impliesFamily: true },
      { stmt: { vmap: 6 }, impliesFamily: true },
      [[{ vmap: 4 }], [{ vmap: 6 }]],
    ],
  ])('%s', (_name, v4, v6, expected) => {
    expect(perFamily(v4, v6)).toEqual(expected);
  });
});

describe('policyChainRules', () => {
  it('gives every policy its chain, referenced by a rule or not, with one rule per family where they differ', () => {
    const a = policy([['wan1', 1, true]], { name: 'a' });
    const b = policy([['wan1', 1, true]], { name: 'b' });
    const b6 = policy([['wan2', 1, true]], { name: 'b' });
    expect(policyChainRules([a, b], [b6]).map((r) => [r.chain, JSON.stringify(r.expr)])).toEqual([
      ['policy_a', '[{"goto":{"target":"mark_wan1"}}]'],
      ['policy_b', expect.stringContaining('"ipv4"}},{"goto":{"target":"mark_wan1"}}')],
      ['policy_b', expect.stringContaining('"ipv6"}},{"goto":{"target":"mark_wan2"}}')],
    ]);
  });
});

describe('seedOf', () => {
  it.each([
    ['', 0x811c9dc5],
    ['a', 0xe40c292c],
    ['foobar', 0xbf9cf968],
    ['é', 0x1e9de8c1],
  ])('is FNV-1a over the UTF-8 bytes of %j', (name, seed) => {
    expect(seedOf(name)).toBe(seed);
  });
});
