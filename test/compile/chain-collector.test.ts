// The Chains collector: chains in a stable order (base chains first, then by first use), each chain's rules together.
import { describe, expect, it } from 'vitest';
import { Chains } from '../../src/compile/chain-collector.js';

const accept = { accept: null };
const chainOf = (cmd: Record<string, unknown>) => (cmd.add as { chain: { name: string } }).chain.name;

describe('Chains', () => {
  it('declares base chains first, then the others in the order of their first rule', () => {
    const chains = new Chains('t');
    chains.base('prerouting', { type: 'filter', hook: 'prerouting', prio: -150, policy: 'accept' });
    chains.rule('b', [accept]);
    chains.rule('a', [accept]);
    chains.rule('prerouting', [accept]);
    expect(chains.names()).toEqual(['prerouting', 'b', 'a']);
    expect(chains.chainCommands()).toEqual([
      { add: { chain: { family: 'inet', table: 't', name: 'prerouting', type: 'filter', hook: 'prerouting', prio: -150, policy: 'accept' } } },
      { add: { chain: { family: 'inet', table: 't', name: 'b' } } },
      { add: { chain: { family: 'inet', table: 't', name: 'a' } } },
    ]);
  });

  it("emits each chain's rules together, in the chains' order, keeping the order within a chain", () => {
    const chains = new Chains('t');
    chains.add([
      { chain: 'x', expr: [{ n: 1 }] },
      { chain: 'y', expr: [{ n: 2 }], comment: 'second' },
      { chain: 'x', expr: [{ n: 3 }] },
    ]);
    const rules = chains.ruleCommands().map((c) => (c.add as { rule: Record<string, unknown> }).rule);
    expect(rules).toEqual([
      { family: 'inet', table: 't', chain: 'x', expr: [{ n: 1 }] },
      { family: 'inet', table: 't', chain: 'x', expr: [{ n: 3 }] },
      { family: 'inet', table: 't', chain: 'y', expr: [{ n: 2 }], comment: 'second' },
    ]);
    expect(chains.chainCommands().map(chainOf)).toEqual(['x', 'y']);
  });

  it('keeps the statement list it was given (plans share the frozen classify rules)', () => {
    const chains = new Chains('t');
    const expr = Object.freeze([accept]) as unknown as Record<string, unknown>[];
    chains.rule('c', expr);
    expect((chains.ruleCommands()[0]?.add as { rule: { expr: unknown } }).rule.expr).toBe(expr);
  });
});
