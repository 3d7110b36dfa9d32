// compile keeps the last classify tail (the user rules' part) and reuses it while the rules are the same:
// a state change recompiles only what depends on states. A rule changed in place must not be served stale.
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { EMPTY_FACTS } from '../../src/model/facts.js';
import { validateConfig } from '../../src/config/validate.js';
import { normalize } from '../../src/config/normalize.js';
import type { NftMwanConfig } from '../../src/generated/config.js';

const config = (): NftMwanConfig => {
  const c: NftMwanConfig = {
    interfaces: { wan1: { device: 'eth1', gateway: '192.0.2.1' }, wan2: { device: 'eth2', gateway: '198.51.100.1' } },
    policies: {
      balanced: { members: [{ interface: 'wan1' }, { interface: 'wan2' }] },
      only2: { members: [{ interface: 'wan2' }] },
    },
    sets: { vpn: { type: 'ipv4_addr' } },
    rules: [
      { name: 'a', destIp: ['203.0.113.1'], policy: 'only2' },
      { name: 'b', destIp: ['203.0.113.2'], policy: 'only2' },
      { name: 'c', set: 'vpn', policy: 'only2' },
      { name: 'default', policy: 'balanced' },
    ],
  };
  const v = validateConfig(c);
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return c;
};
const classify = (c: NftMwanConfig, states = {}) =>
  compile(normalize(c), EMPTY_FACTS, states).nft.nftables.flatMap((cmd) => {
    const rule = (cmd.add as { rule?: { chain: string; expr: unknown } } | undefined)?.rule;
    return rule?.chain === 'classify' ? [JSON.stringify(rule.expr)] : [];
  });

describe('the classify tail is reused only while the rules are the same', () => {
  it('a state change reuses it: the same rules, and the policy chains follow the state', () => {
    const c = config();
    const before = compile(normalize(c), EMPTY_FACTS, {});
    const after = compile(normalize(c), EMPTY_FACTS, { wan1: 'offline' });
    expect(classify(c, { wan1: 'offline' })).toEqual(classify(config()));
    expect(JSON.stringify(after.nft)).not.toBe(JSON.stringify(before.nft));
    // Reused, not rebuilt: the second plan holds the very statement lists of the first.
    const userRule = (p: typeof before) =>
      p.nft.nftables
        .map((cmd) => (cmd.add as { rule?: { chain: string; expr: unknown[] } } | undefined)?.rule)
        .find((r) => r?.chain === 'classify' && JSON.stringify(r.expr).includes('203.0.113'))?.expr;
    expect(userRule(before)).toBeDefined();
    expect(userRule(after)).toBe(userRule(before));
  });

  it('a rule changed in place, a rule added and a set retyped are each compiled afresh', () => {
    const c = config();
    const first = classify(c);
    (c.rules?.[0] as { destIp: string[] }).destIp[0] = '203.0.113.9';
    const changed = classify(c);
    expect(changed).not.toEqual(first);
    expect(changed.join()).toContain('203.0.113.9');
    expect(changed).toEqual(classify(structuredClone(c)));

    c.rules?.splice(3, 0, { name: 'd', destIp: ['203.0.113.50'], policy: 'balanced' });
    expect(classify(c).join()).toContain('203.0.113.50');

    (c.sets as Record<string, { type: string }>).vpn = { type: 'ipv6_addr' };
    expect(classify(c).join()).toContain('"ip6"');
  });

  it('plans share it frozen: changing a compiled plan in place throws instead of changing the next plan', () => {
    const c = config();
    const plan = compile(normalize(c), EMPTY_FACTS, {});
    const rule = plan.nft.nftables
      .map((cmd) => (cmd.add as { rule?: { chain: string; expr: unknown[] } } | undefined)?.rule)
      .find((r) => r?.chain === 'classify' && JSON.stringify(r.expr).includes('203.0.113'));
    expect(rule).toBeDefined();
    expect(() => rule?.expr.push({ accept: null })).toThrow(TypeError);
    expect(classify(c)).toEqual(classify(structuredClone(c)));
  });
});
