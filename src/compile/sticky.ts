// Sticky rules: one timeout set per (rule, WAN, family) of the rule's policy, and the chains that consult and fill them.
import type { ResolvedConfig } from '../config/resolved.js';
import { chainName, stickySetName, type Family } from '../model/names.js';
import type { PlannedInterface, PlannedPolicy } from '../model/plan.js';
import type { ChainRule } from './chain-collector.js';
import { carries, ipProtocol, onlineFor } from './family.js';
import * as x from './nft-expr.js';
import { forFamily, policyVerdict } from './policies.js';

export interface StickyRule {
  rule: string;
  policy: string;
  /** What the sets remember: the source, or source and destination. */
  key: (family: Family) => x.Expr;
  set: (family: Family, iface: string) => string;
}

export interface StickySet {
  name: string;
  type: string | string[];
  timeout: number;
  /** Whether its WAN is online (an offline WAN's set is flushed). */
  online: boolean;
}

export interface StickyPlan {
  rules: StickyRule[];
  sets: StickySet[];
}

/** Sticky rules and their sets: one timeout set per (rule, WAN, family) of the rule's policy. */
export function planSticky(config: ResolvedConfig, policies: readonly PlannedPolicy[], byName: ReadonlyMap<string, PlannedInterface>): StickyPlan {
  const rules: StickyRule[] = [];
  const sets: StickySet[] = [];
  for (const rule of config.rules) {
    if (!rule.sticky) continue;
    const p = policies.find((q) => q.name === rule.policy);
    if (!p) continue;
    const bySrcDst = rule.stickyBy === 'srcdst';
    const addr = (f: Family, field: 'saddr' | 'daddr') => x.payload(ipProtocol(f), field);
    const key = (f: Family) => (bySrcDst ? { concat: [addr(f, 'saddr'), addr(f, 'daddr')] } : addr(f, 'saddr'));
    const setName = (f: Family, iface: string) => stickySetName(rule.name, iface, f);
    rules.push({ rule: rule.name, policy: p.name, key, set: setName });
    for (const m of p.members) {
      const iface = byName.get(m.interface);
      if (!iface?.enabled) continue;
      for (const f of ['ipv4', 'ipv6'] as const) {
        if (!carries(iface, f)) continue;
        const t = f === 'ipv6' ? 'ipv6_addr' : 'ipv4_addr';
        sets.push({ name: setName(f, m.interface), type: bySrcDst ? [t, t] : t, timeout: rule.stickyTimeout, online: onlineFor(iface, f) });
      }
    }
  }
  return { rules, sets };
}

export interface StickyChainInput {
  sticky: StickyPlan;
  policies: readonly PlannedPolicy[];
  policies6: readonly PlannedPolicy[];
  byName: ReadonlyMap<string, PlannedInterface>;
  /** Whether some enabled WAN carries IPv6 (else no rule needs an nfproto test). */
  v6: boolean;
}

/** Per sticky rule: its sticky chain (look up, else the policy's choice) and one stick chain per member and family. */
export function stickyChainRules(o: StickyChainInput): ChainRule[] {
  const out: ChainRule[] = [];
  for (const st of o.sticky.rules) {
    const views = [
      { family: 'ipv4' as const, p: o.policies.find((q) => q.name === st.policy) },
      { family: 'ipv6' as const, p: o.policies6.find((q) => q.name === st.policy) },
    ];
    for (const { family, p } of views) {
      if (!p) continue;
      const key = st.key(family);
      // A source seen on an active WAN under this rule goes back to it; entries of offline WANs are not consulted.
      for (const m of p.members) {
        const iface = o.byName.get(m.interface);
        if (!iface?.enabled || !carries(iface, family)) continue;
        const set = `@${st.set(family, m.interface)}`;
        const remember = () => ({ set: { op: 'update', elem: key, set } });
        // The address match implies the family (nft would drop an explicit nfproto from the listing).
        if (m.active) out.push({ chain: chainName.sticky(st.rule), expr: [x.match('==', key, set), remember(), x.goTo(chainName.mark(m.interface))] });
        // Every member's chain, active or not: a WAN's state change then only rewrites rules (an incremental batch).
        out.push({ chain: chainName.stick(st.rule, m.interface, family), expr: [remember(), x.goTo(chainName.mark(m.interface))] });
      }
      const verdict = policyVerdict(p, (iface) => chainName.stick(st.rule, iface, family), family);
      // Without an IPv6 WAN every packet here is IPv4: no family test.
      out.push({ chain: chainName.sticky(st.rule), expr: o.v6 ? forFamily(family, verdict) : [verdict.stmt] });
    }
  }
  return out;
}
