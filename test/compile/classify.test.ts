// The classify chain's tail: each user rule goes to its policy's chain, a special's mark chain, or its sticky chain.
import { describe, expect, it } from 'vitest';
import { classifyRules, policyTarget } from '../../src/compile/classify.js';
import { resolved } from './fixtures.js';

describe('policyTarget', () => {
  it.each([
    ['a policy goes to its chain', 'balanced', 'policy_balanced'],
    ["default goes to the main table's mark chain", 'default', 'mark__default'],
    ['blackhole goes to its mark chain', 'blackhole', 'mark__blackhole'],
    ['unreachable goes to its mark chain', 'unreachable', 'mark__unreachable'],
  ])('%s', (_name, policy, chain) => {
    expect(policyTarget(policy)).toBe(chain);
  });
});

describe('classifyRules', () => {
  it('puts every user rule in the classify chain, a sticky one going to its sticky chain', () => {
    const config = resolved({
      interfaces: { wan1: { device: 'eth1', gateway: '192.0.2.1' } },
      policies: { p: { members: [{ interface: 'wan1' }] } },
      rules: [
        { name: 'web', proto: 'tcp', destPort: [443], policy: 'p', sticky: true },
        { name: 'drop', destIp: ['203.0.113.0/24'], policy: 'blackhole' },
        { name: 'rest', policy: 'p' },
      ],
    });
    const rules = classifyRules(config);
    expect(rules.map((r) => [r.chain, r.comment, r.expr.at(-1)])).toEqual([
      ['classify', 'rule web', { goto: { target: 'sticky_web' } }],
      ['classify', 'rule drop', { goto: { target: 'mark__blackhole' } }],
      ['classify', 'rule rest', { goto: { target: 'policy_p' } }],
    ]);
  });
});
