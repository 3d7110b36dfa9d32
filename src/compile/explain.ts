// What happens to one NEW connection, read off a Plan: the same rules, in the same order, the kernel runs. Pure.
import type { NftMwanConfig, Rule } from '../generated/config.js';
import { parseIp, parseIpElement, parsePort } from './net.js';
import type { Plan } from './plan.js';

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
  sticky: string;
}

const PROTO_NUMBERS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58 };

/**
 * `bypass` holds the destinations the classify chain never balances (the plan's bypass_v4 set:
 * connected networks and `globals.bypass`), `local` the router's own addresses.
 */
export function explain(
  config: NftMwanConfig,
  plan: Plan,
  flow: Flow,
  context: { bypass: readonly string[]; local: readonly string[]; sets?: Readonly<Record<string, readonly string[]>> },
): Explanation {
  const base = { flow, rule: null, policy: null, candidates: [], lastResort: null, sticky: 'no sticky rules: every NEW connection is placed on its own' };
  const dst = parseIp(flow.dst);
  const src = parseIp(flow.src);
  if (dst === undefined || src === undefined || src.family !== dst.family) throw new Error(`not addresses of one family: ${flow.src} -> ${flow.dst}`);
  const family = dst.family;
  if (context.local.includes(flow.dst)) {
    return { ...base, verdict: 'bypass', reason: `${flow.dst} is the router's own address: delivered locally, never balanced` };
  }
  const hit = context.bypass.find((c) => inElement(c, flow.dst));
  if (hit) {
    return { ...base, verdict: 'bypass', reason: `${flow.dst} is in ${hit}, a network the main table routes specifically (or globals.bypass): never balanced` };
  }
  const rule = (config.rules ?? []).find((r) => matches(r, flow, context.sets ?? {}));
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
    return { ...base, verdict: 'rule', rule: rule.name, policy: rule.policy, lastResort: null, reason: `rule "${rule.name}" matches, but no WAN carries IPv6: not balanced` };
  }
  if (!policy) throw new Error(`plan has no policy ${rule.policy}`);
  const byName = new Map(plan.interfaces.map((i) => [i.name, i]));
  const candidates = policy.members
    .filter((m) => m.active)
    .map((m) => {
      const i = byName.get(m.interface);
      return { interface: m.interface, device: i?.device ?? '?', gateway: i?.gateway ?? null, probability: m.share };
    });
  return {
    ...base,
    verdict: 'rule',
    rule: rule.name,
    policy: policy.name,
    candidates,
    lastResort: policy.usingLastResort ? policy.lastResort : null,
    reason: policy.usingLastResort
      ? `${reason}; policy ${policy.name} has no member online, so its last resort (${policy.lastResort}) applies`
      : `${reason}; policy ${policy.name}: the online members of its lowest metric share NEW connections by weight`,
  };
}

function inElement(text: string, address: string): boolean {
  const parsed = parseIpElement(text);
  const a = parseIp(address);
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
function matches(rule: Rule, flow: Flow, sets: Readonly<Record<string, readonly string[]>>): boolean {
  if (rule.srcIface && (flow.iif === undefined || !rule.srcIface.includes(flow.iif))) return false;
  if (rule.set !== undefined && !(sets[rule.set] ?? []).some((t) => inElement(t, flow.dst))) return false;
  const family = parseIp(flow.dst)?.family;
  if (rule.family !== undefined && rule.family !== 'any' && rule.family !== family) return false;
  const proto = rule.proto ?? 'all';
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
