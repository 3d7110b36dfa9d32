// Policies as each family sees them, the verdict that spreads a policy's NEW connections, and the policy chains.
import type { ResolvedConfig } from '../config/resolved.js';
import { chainName, type Family } from '../model/names.js';
import type { PlannedInterface, PlannedPolicy } from '../model/plan.js';
import type { ChainRule } from './chain-collector.js';
import { carries, ipProtocol, onlineFor } from './family.js';
import * as x from './nft-expr.js';

/** The policies as one family sees them: a member whose WAN does not carry the family (or is offline for it) is never online for it. */
export function planPolicies(config: ResolvedConfig, byName: ReadonlyMap<string, PlannedInterface>, family: Family): PlannedPolicy[] {
  const onlineIt = (i: PlannedInterface | undefined) => i !== undefined && onlineFor(i, family) && carries(i, family);
  return Object.entries(config.policies).map(([name, policy]) => {
    const members = policy.members.map((m) => ({
      interface: m.interface,
      metric: m.metric,
      weight: m.weight,
      online: onlineIt(byName.get(m.interface)),
    }));
    const online = members.filter((m) => m.online);
    const tier = Math.min(...online.map((m) => m.metric));
    const total = online.filter((m) => m.metric === tier).reduce((s, m) => s + m.weight, 0);
    return {
      name,
      mode: policy.mode,
      lastResort: policy.lastResort,
      members: members.map(({ online: isOnline, ...m }) => {
        const active = isOnline && m.metric === tier;
        return { ...m, active, share: active ? m.weight / total : 0 };
      }),
      usingLastResort: online.length === 0,
    };
  });
}

/** A policy's verdict statement, and whether it already restricts itself to its family. */
export interface Verdict {
  stmt: x.Stmt;
  /** A source-hash verdict hashes `ip saddr` or `ip6 saddr`, which already restricts it to its family. */
  impliesFamily: boolean;
}

/** Weighted choice among the active members: numgen over the weight total (reduced by their gcd). */
export function policyVerdict(p: PlannedPolicy, targetOf: (iface: string) => string = chainName.mark, family: Family = 'ipv4'): Verdict {
  const active = p.members.filter((m) => m.active);
  if (active.length === 0) return { stmt: x.goTo(chainName.mark(chainName.special(p.lastResort))), impliesFamily: false };
  if (active.length === 1) return { stmt: x.goTo(targetOf((active[0] as { interface: string }).interface)), impliesFamily: false };
  const divisor = active.reduce((d, m) => gcd(d, m.weight), 0);
  const entries: [x.Expr, x.Stmt][] = [];
  let from = 0;
  for (const m of active) {
    const to = from + m.weight / divisor - 1;
    entries.push([from === to ? from : { range: [from, to] }, x.goTo(targetOf(m.interface))]);
    from = to + 1;
  }
  if (p.mode === 'srchash') {
    // A seed fixed per policy name: re-applies never reshuffle sources (nft lists jhash without offset).
    const key = { jhash: { mod: from, seed: seedOf(p.name), expr: x.payload(ipProtocol(family), 'saddr') } };
    return { stmt: x.vmap(key, entries), impliesFamily: true };
  }
  const key = { numgen: { mode: p.mode === 'roundrobin' ? 'inc' : 'random', mod: from, offset: 0 } };
  return { stmt: x.vmap(key, entries), impliesFamily: false };
}

/** The verdict as one family's rule: with an nfproto test unless the verdict implies the family. */
export function forFamily(family: Family, v: Verdict): x.Stmt[] {
  return v.impliesFamily ? [v.stmt] : [x.match('==', x.meta('nfproto'), family), v.stmt];
}

/** One verdict for both families when they agree, else one rule per family. */
export function perFamily(v4: Verdict, v6: Verdict | undefined): x.Stmt[][] {
  if (v6 === undefined) return [[v4.stmt]];
  if (JSON.stringify(v4.stmt) === JSON.stringify(v6.stmt)) return [[v4.stmt]];
  return [forFamily('ipv4', v4), forFamily('ipv6', v6)];
}

/** One chain per policy: policies referenced by nothing still get a chain, so `explain`/status can show them. */
export function policyChainRules(policies: readonly PlannedPolicy[], policies6: readonly PlannedPolicy[]): ChainRule[] {
  return policies.flatMap((p) => {
    const p6 = policies6.find((q) => q.name === p.name);
    return perFamily(policyVerdict(p), p6 && policyVerdict(p6, chainName.mark, 'ipv6')).map((expr) => ({ chain: chainName.policy(p.name), expr }));
  });
}

/** FNV-1a of the policy name: a stable 32-bit jhash seed. */
export function seedOf(name: string): number {
  let h = 0x811c9dc5;
  for (const c of new TextEncoder().encode(name)) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return h;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
