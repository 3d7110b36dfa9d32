// What happens to one NEW connection, read off a Plan: the same rules, in the same order, the kernel runs. Pure.
import { inMasked, parseMaskedIpv4 } from '../model/masked.js';
import type { ResolvedConfig, ResolvedRule } from '../config/resolved.js';
import { MwanError } from '../model/errors.js';
import { parseIp, parseIpElement, parsePort } from '../model/net.js';
import type { Plan } from '../model/plan.js';
import { stickySetName } from '../model/names.js';
import type { NftObject } from '../model/json.js';

export interface Flow {
  src: string;
  dst: string;
  /** tcp, udp, icmp, icmpv6 or an IP protocol number. */
  proto: 'tcp' | 'udp' | 'icmp' | 'icmpv6' | number;
  sport?: number;
  dport?: number;
  /** The device it comes in on (rules with srcIface only match when this is given). */
  iif?: string;
}

export interface Candidate {
  interface: string;
  device: string;
  gateway: string | null;
  /** Share of such NEW connections this WAN gets now, 0..1. */
  probability: number;
}

export interface Explanation {
  flow: Flow;
  /** What decided: not balanced at all, a rule, or no rule (the main table). */
  verdict: 'bypass' | 'rule' | 'unmatched';
  /** Why, in one sentence. */
  reason: string;
  rule: string | null;
  /** The policy the rule names (also default, unreachable, blackhole). */
  policy: string | null;
  candidates: Candidate[];
  /** Set when the policy has no member online: what happens instead. */
  lastResort: 'unreachable' | 'blackhole' | 'default' | null;
  /** Whether sticky state applies, in one sentence. */
  sticky: string;
  /** Set when the matching rule is sticky. */
  stickyRule: StickyVerdict | null;
}

export interface StickyVerdict {
  by: 'src' | 'srcdst';
  /** Seconds an entry lives after the last NEW connection that used it. */
  timeout: number;
  /** The installed entry that decides (on an active WAN), or null: the policy places the connection. */
  entry: { interface: string; set: string; expires: number | null } | null;
  /** Entries of this source on WANs that are not active: the kernel does not consult them. */
  ignored: { interface: string; set: string }[];
}

/** One element of an installed sticky set: [src] or [src, dst]; `expires` in seconds when the listing gives it. */
export interface StickyElement {
  key: string[];
  expires?: number;
}

/** Installed sticky sets by name (from `nft -j list table`); a set absent here has no entries. */
export type StickyState = Readonly<Record<string, readonly StickyElement[]>>;

const PROTO_NUMBERS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58 };

/**
 * `bypass` holds the destinations the classify chain never balances (the plan's bypass_v4 set:
 * connected networks and `globals.bypass`), `local` the router's own addresses.
 */
export function explain(
  config: ResolvedConfig,
  plan: Plan,
  flow: Flow,
  context: { bypass: readonly string[]; local: readonly string[]; sets?: Readonly<Record<string, readonly string[]>>; sticky?: StickyState },
): Explanation {
  const base = {
    flow,
    rule: null,
    policy: null,
    candidates: [],
    lastResort: null,
    sticky: 'no sticky rule applies: every NEW connection is placed on its own',
    stickyRule: null,
  };
  const dst = parseIp(flow.dst);
  const src = parseIp(flow.src);
  // The command line checks the flow first; another caller's bad flow is the same usage error.
  if (dst === undefined || src === undefined || src.family !== dst.family) {
    throw new MwanError({ code: 'USAGE', summary: `explain: not addresses of one family: ${flow.src} -> ${flow.dst}` });
  }
  const family = dst.family;
  if (context.local.includes(flow.dst)) {
    return { ...base, verdict: 'bypass', reason: `${flow.dst} is the router's own address: delivered locally, never balanced` };
  }
  const hit = context.bypass.find((c) => inElement(c, flow.dst));
  if (hit) {
    return {
      ...base,
      verdict: 'bypass',
      reason: `${flow.dst} is in ${hit} (the main table's specific routes, globals.bypass, loopback, broadcast or multicast): never balanced`,
    };
  }
  const rule = config.rules.find((r) => matches(r, flow, context.sets ?? {}));
  if (!rule) {
    return { ...base, verdict: 'unmatched', reason: 'no rule matches: the main routing table decides, unmarked' };
  }
  const reason = `rule "${rule.name}" is the first that matches`;
  if (rule.policy === 'default') {
    return { ...base, verdict: 'rule', rule: rule.name, policy: 'default', reason: `${reason}; policy default: the main routing table` };
  }
  if (rule.policy === 'unreachable' || rule.policy === 'blackhole') {
    return { ...base, verdict: 'rule', rule: rule.name, policy: rule.policy, lastResort: rule.policy, reason: `${reason}; policy ${rule.policy}` };
  }
  // A policy as this flow's family sees it: only members whose WAN carries the family.
  const policy = (family === 'ipv6' ? plan.policies6 : plan.policies).find((p) => p.name === rule.policy);
  if (!policy && family === 'ipv6') {
    return {
      ...base,
      verdict: 'rule',
      rule: rule.name,
      policy: rule.policy,
      lastResort: null,
      reason: `rule "${rule.name}" matches, but no WAN carries IPv6: not balanced`,
    };
  }
  // The plan was compiled from this config, which validation made name only policies it has: a bug.
  if (!policy) throw new MwanError({ code: 'INTERNAL', summary: `explain: plan has no policy ${rule.policy}` });
  const byName = new Map(plan.interfaces.map((i) => [i.name, i]));
  const active = policy.members.filter((m) => m.active);
  const candidates = active.map((m) => {
    const i = byName.get(m.interface);
    return { interface: m.interface, device: i?.device ?? '?', gateway: i?.gateway ?? null, probability: m.share };
  });
  const placed = {
    ...base,
    verdict: 'rule' as const,
    rule: rule.name,
    policy: policy.name,
    candidates,
    lastResort: policy.usingLastResort ? policy.lastResort : null,
    reason: policy.usingLastResort
      ? `${reason}; policy ${policy.name} has no member online, so its last resort (${policy.lastResort}) applies`
      : `${reason}; policy ${policy.name}: the online members of its lowest metric share NEW connections by weight`,
  };
  if (!rule.sticky) return { ...placed, sticky: `rule "${rule.name}" is not sticky: every NEW connection is placed on its own` };
  const stickyRule = stickyLookup(rule, policy.members, family, flow, plan, context.sticky ?? {});
  const by = stickyRule.by === 'srcdst' ? `${flow.src} -> ${flow.dst}` : flow.src;
  const ignored = stickyRule.ignored.length > 0 ? `; entries on ${stickyRule.ignored.map((i) => i.interface).join(', ')} are not consulted (not active)` : '';
  if (stickyRule.entry === null) {
    return {
      ...placed,
      stickyRule,
      sticky:
        `sticky by ${stickyRule.by} (timeout ${stickyRule.timeout} s): no entry for ${by} on an active WAN, ` +
        `so the policy places it and the WAN it gets is remembered${ignored}`,
    };
  }
  const e = stickyRule.entry;
  const i = byName.get(e.interface);
  return {
    ...placed,
    stickyRule,
    candidates: [{ interface: e.interface, device: i?.device ?? '?', gateway: i?.gateway ?? null, probability: 1 }],
    reason: `${reason}; sticky: ${by} has an entry in ${e.set}, so it goes back to ${e.interface}`,
    sticky:
      `sticky by ${stickyRule.by} (timeout ${stickyRule.timeout} s): ${by} is on ${e.interface}` +
      `${e.expires !== null ? ` for another ${e.expires} s unless a NEW connection renews it` : ''}${ignored}`,
  };
}

/** The sticky chain as compile emits it: the active members' sets in member order, the first holding the key wins. */
function stickyLookup(
  rule: ResolvedRule,
  members: Plan['policies'][number]['members'],
  family: 'ipv4' | 'ipv6',
  flow: Flow,
  plan: Plan,
  state: StickyState,
): StickyVerdict {
  const by = rule.stickyBy === 'srcdst' ? 'srcdst' : 'src';
  const key = by === 'srcdst' ? [flow.src, flow.dst] : [flow.src];
  const verdict: StickyVerdict = { by, timeout: rule.stickyTimeout, entry: null, ignored: [] };
  for (const m of members) {
    const set = stickySetName(rule.name, m.interface, family);
    if (!plan.stickySets.includes(set)) continue;
    const hit = (state[set] ?? []).find((el) => el.key.length === key.length && el.key.every((k, n) => sameAddress(k, key[n] as string)));
    if (!hit) continue;
    if (!m.active) verdict.ignored.push({ interface: m.interface, set });
    else if (verdict.entry === null) verdict.entry = { interface: m.interface, set, expires: hit.expires ?? null };
  }
  return verdict;
}

/** The elements of the installed sticky sets, read off an `nft -j list table` listing. */
export function stickyState(listing: readonly NftObject[] | null, names: readonly string[]): Record<string, StickyElement[]> {
  const out: Record<string, StickyElement[]> = {};
  for (const item of listing ?? []) {
    const set = item.set as { name?: unknown; elem?: unknown[] } | undefined;
    if (!set || typeof set.name !== 'string' || !names.includes(set.name)) continue;
    out[set.name] = (set.elem ?? []).flatMap((e): StickyElement[] => {
      const wrapped = e !== null && typeof e === 'object' && 'elem' in e ? (e as { elem: { val: unknown; expires?: unknown } }).elem : null;
      const val = wrapped ? wrapped.val : e;
      const key =
        typeof val === 'string'
          ? [val]
          : Array.isArray((val as { concat?: unknown } | null)?.concat)
            ? (val as { concat: unknown[] }).concat.map(String)
            : null;
      if (key === null) return [];
      return [typeof wrapped?.expires === 'number' ? { key, expires: wrapped.expires } : { key }];
    });
  }
  return out;
}

function sameAddress(a: string, b: string): boolean {
  const x = parseIp(a);
  const y = parseIp(b);
  return x !== undefined && y !== undefined ? x.family === y.family && x.value === y.value : a === b;
}

function inElement(text: string, address: string): boolean {
  const parsed = parseIpElement(text);
  const a = parseIp(address);
  const m = parseMaskedIpv4(text);
  if (m !== undefined) return a?.family === 'ipv4' && inMasked(m, Number(a.value));
  return !('error' in parsed) && a !== undefined && parsed.interval.family === a.family && parsed.interval.first <= a.value && a.value <= parsed.interval.last;
}

function inPorts(ports: readonly (number | string)[], port: number | undefined): boolean {
  if (port === undefined) return false;
  return ports.some((p) => {
    const r = parsePort(p);
    return !('error' in r) && r.first <= port && port <= r.last;
  });
}

/** The classify chain's match for one rule, as compile emits it. */
function matches(rule: ResolvedRule, flow: Flow, sets: Readonly<Record<string, readonly string[]>>): boolean {
  if (rule.srcIface && (flow.iif === undefined || !rule.srcIface.includes(flow.iif))) return false;
  if (rule.set !== undefined && !(sets[rule.set] ?? []).some((t) => inElement(t, flow.dst))) return false;
  const family = parseIp(flow.dst)?.family;
  if (rule.family !== 'any' && rule.family !== family) return false;
  const proto = rule.proto;
  if (proto !== 'all') {
    const want = typeof proto === 'number' ? proto : PROTO_NUMBERS[proto];
    const have = typeof flow.proto === 'number' ? flow.proto : PROTO_NUMBERS[flow.proto];
    if (want !== have) return false;
  }
  if (rule.srcIp && !rule.srcIp.some((t) => inElement(t, flow.src))) return false;
  if (rule.destIp && !rule.destIp.some((t) => inElement(t, flow.dst))) return false;
  if (rule.srcPort && !inPorts(rule.srcPort, flow.sport)) return false;
  if (rule.destPort && !inPorts(rule.destPort, flow.dport)) return false;
  return true;
}

/** For the text output: "wan1 75.0%, wan2 25.0%". */
export function describeCandidates(e: Explanation): string {
  if (e.candidates.length === 0) return e.lastResort ?? (e.policy === 'default' || e.verdict !== 'rule' ? 'main routing table' : 'none');
  return e.candidates.map((c) => `${c.interface} (${c.device}) ${(c.probability * 100).toFixed(1)}%`).join(', ');
}
