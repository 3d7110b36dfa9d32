// The classify chain's tail: the user rules compiled to statements, each going to its policy, sticky or special chain.
import type { ResolvedConfig, ResolvedRule } from '../config/resolved.js';
import { chainName, isSpecial } from '../model/names.js';
import type { ChainRule } from './chain-collector.js';
import { compileRules, type ClassifyRule } from './rules.js';

/** The user rules as rules of the classify chain, after its head (classifyHead in chains.ts). */
export function classifyRules(config: ResolvedConfig): ChainRule[] {
  return classifyTail(config).map((r) => ({ chain: 'classify', expr: r.expr, comment: r.comment }));
}

/**
 * The user rules' part of the classify chain depends on the rules and the sets' types only, never on link
 * states or system facts, and the daemon compiles the same config on every state change: the last result
 * is kept, keyed by the rules' JSON (a changed rule, even one changed in place, is compiled afresh).
 * Plans share it: nothing may change a compiled plan in place (its rules are frozen).
 */
let lastClassify: { key: string; tail: readonly ClassifyRule[] } | null = null;
function classifyTail(config: ResolvedConfig): readonly ClassifyRule[] {
  const rules = config.rules;
  const sets = config.sets;
  const key = JSON.stringify([rules, Object.entries(sets).map(([n, st]) => [n, st.type])]);
  if (lastClassify?.key === key) return lastClassify.tail;
  // A thousand rules name a few policies: each policy's chain name is built once (one string the batch's JSON reads).
  const targets = new Map<string, string>();
  const target = (rule: ResolvedRule): string => {
    if (rule.sticky) return chainName.sticky(rule.name);
    let t = targets.get(rule.policy);
    if (t === undefined) targets.set(rule.policy, (t = policyTarget(rule.policy)));
    return t;
  };
  const tail = freezeRules(compileRules(rules, target, sets));
  lastClassify = { key, tail };
  return tail;
}

/** Each rule and its statement list (a verdict map's thousand elements are left as they are: freezing them costs more than the compile saves). */
function freezeRules(rules: ClassifyRule[]): readonly ClassifyRule[] {
  for (const r of rules) Object.freeze(Object.freeze(r).expr);
  return Object.freeze(rules);
}

/** The chain a non-sticky rule goes to: a special policy's mark chain, else the policy's chain. */
export function policyTarget(policy: string): string {
  if (isSpecial(policy)) return chainName.mark(chainName.special(policy));
  return chainName.policy(policy);
}
