// Property test of the classify chain: random rule lists (first match wins) compiled to nft JSON, merged
// into verdict maps where rules cannot overlap, must send every packet where the rules, read one by one, say.
// IPv4 and IPv6 both: rules with addresses of either family or both, `family`, icmp/icmpv6, named sets of
// either type, and packets of both families. The reference below is written from the config semantics alone
// (not from src/compile), and the batch is run by a small interpreter (./nft-eval.ts).
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { explain } from '../../src/compile/explain.js';
import { validateConfig } from '../../src/config/validate.js';
import { normalize } from '../../src/config/normalize.js';
import type { SystemFacts } from '../../src/model/facts.js';
import type { NftMwanConfig, Rule } from '../../src/generated/config.js';
import { chainRules, evalClassify, evalClassifyDetailed, ipv4ToNumber, ipv6ToBigInt, overlappingElements, packetFamily, type Packet } from './nft-eval.js';

// ---------------------------------------------------------------------------------------------------------
// Reference semantics

const PROTO_NUMBERS: Readonly<Record<string, number>> = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58 };
const SPECIAL_POLICIES = ['unreachable', 'blackhole', 'default'];
type Field = 'srcIface' | 'srcIp' | 'destIp' | 'srcPort' | 'destPort';
const FIELDS: readonly Field[] = ['srcIface', 'srcIp', 'destIp', 'srcPort', 'destPort'];
type Fam = 'ipv4' | 'ipv6';
const FAMS: readonly Fam[] = ['ipv4', 'ipv6'];
/** An inclusive interval of one family's addresses (both as big integers, so one comparison serves). */
interface AddrInterval {
  family: Fam;
  lo: bigint;
  hi: bigint;
}
/** A field's values as inclusive intervals (device names as themselves). */
type Values = [bigint, bigint][] | string[];

function addrOf(text: string): { family: Fam; value: bigint } {
  return text.includes(':') ? { family: 'ipv6', value: ipv6ToBigInt(text) } : { family: 'ipv4', value: BigInt(ipv4ToNumber(text)) };
}

function ipInterval(text: string): AddrInterval {
  const dash = text.indexOf('-');
  if (dash >= 0) {
    const lo = addrOf(text.slice(0, dash));
    return { family: lo.family, lo: lo.value, hi: addrOf(text.slice(dash + 1)).value };
  }
  const slash = text.indexOf('/');
  if (slash >= 0) {
    const base = addrOf(text.slice(0, slash));
    const bits = base.family === 'ipv4' ? 32n : 128n;
    return { family: base.family, lo: base.value, hi: base.value + (1n << (bits - BigInt(text.slice(slash + 1)))) - 1n };
  }
  const a = addrOf(text);
  return { family: a.family, lo: a.value, hi: a.value };
}

function portInterval(p: number | string): [bigint, bigint] {
  if (typeof p === 'number') return [BigInt(p), BigInt(p)];
  const [lo, hi] = p.split('-');
  return [BigInt(Number(lo)), BigInt(Number(hi ?? lo))];
}

/** The addresses of one field that a packet of `family` can meet. */
function addrs(texts: readonly string[], family: Fam): [bigint, bigint][] {
  let parsed = parsedTexts.get(texts);
  if (parsed === undefined) parsedTexts.set(texts, (parsed = texts.map(ipInterval)));
  return parsed.flatMap((i) => (i.family === family ? [[i.lo, i.hi] as [bigint, bigint]] : []));
}
const parsedTexts = new WeakMap<readonly string[], AddrInterval[]>();

type SetsOf = Readonly<Record<string, { family: Fam; elements: readonly string[] }>>;

/**
 * The families a rule can match: its `family`, the families its srcIp AND destIp (each) hold, its set's type,
 * and icmp (IPv4's) or icmpv6. "any" when nothing ties it to one (a catch-all, ports, devices).
 */
function ruleFamilies(rule: Rule, sets: SetsOf): Fam[] | 'any' {
  const tied =
    (rule.family !== undefined && rule.family !== 'any') ||
    rule.srcIp ||
    rule.destIp ||
    rule.set !== undefined ||
    rule.proto === 'icmp' ||
    rule.proto === 'icmpv6';
  if (!tied) return 'any';
  return FAMS.filter((f) => {
    if ((rule.family === 'ipv4' || rule.family === 'ipv6') && rule.family !== f) return false;
    for (const field of ['srcIp', 'destIp'] as const) if (rule[field] && addrs(rule[field], f).length === 0) return false;
    if (rule.set !== undefined && sets[rule.set]?.family !== f) return false;
    if (rule.proto === 'icmp' && f === 'ipv6') return false;
    if (rule.proto === 'icmpv6' && f === 'ipv4') return false;
    return true;
  });
}

function valuesOf(rule: Rule, f: Field, family: Fam | 'any'): Values | undefined {
  switch (f) {
    case 'srcIface':
      return rule.srcIface;
    case 'srcIp':
    case 'destIp':
      return rule[f] && addrs(rule[f], family as Fam);
    case 'srcPort':
    case 'destPort':
      return rule[f]?.map(portInterval);
  }
}

function protoNumber(proto: Rule['proto']): number | 'all' {
  if (proto === undefined || proto === 'all') return 'all';
  return typeof proto === 'number' ? proto : (PROTO_NUMBERS[proto] as number);
}

function inIntervals(ivs: [bigint, bigint][], v: bigint | number | undefined): boolean {
  return v !== undefined && ivs.some(([lo, hi]) => lo <= BigInt(v) && BigInt(v) <= hi);
}

/** A rule matches when the packet's family is one it can match and every field it has matches. */
function ruleMatches(rule: Rule, p: Packet, sets: SetsOf): boolean {
  const family = packetFamily(p);
  const families = ruleFamilies(rule, sets);
  if (families !== 'any' && !families.includes(family)) return false;
  const proto = protoNumber(rule.proto);
  if (proto !== 'all' && proto !== p.l4proto) return false;
  if (rule.srcIface && !rule.srcIface.includes(p.iifname)) return false;
  if (rule.srcIp && !inIntervals(addrs(rule.srcIp, family), addrOf(p.saddr).value)) return false;
  if (rule.destIp && !inIntervals(addrs(rule.destIp, family), addrOf(p.daddr).value)) return false;
  // Ports exist only for tcp/udp rules, whose proto check above already passed.
  if (rule.srcPort && !inIntervals(rule.srcPort.map(portInterval), p.sport)) return false;
  if (rule.destPort && !inIntervals(rule.destPort.map(portInterval), p.dport)) return false;
  if (rule.set !== undefined && !inIntervals(addrs(sets[rule.set]?.elements ?? [], family), addrOf(p.daddr).value)) return false;
  return true;
}

/** The chain compile names for a rule's policy (a sticky rule has its own chain). */
function targetOf(rule: Rule): string {
  if (rule.sticky) return `sticky_${rule.name}`;
  return SPECIAL_POLICIES.includes(rule.policy) ? `mark__${rule.policy}` : `policy_${rule.policy}`;
}

function setsOf(config: NftMwanConfig): SetsOf {
  return Object.fromEntries(
    Object.entries(config.sets ?? {}).map(([n, s]) => [n, { family: s.type === 'ipv6_addr' ? 'ipv6' : 'ipv4', elements: s.elements ?? [] }]),
  );
}

function carries6(config: NftMwanConfig): boolean {
  return Object.values(config.interfaces).some((i) => (i.family ?? 'ipv4') !== 'ipv4');
}

function referenceRule(config: NftMwanConfig, p: Packet): Rule | undefined {
  const sets = setsOf(config);
  return (config.rules ?? []).find((r) => ruleMatches(r, p, sets));
}

/**
 * Where the classify chain must send a packet: the first matching rule's chain, or null. Without a WAN that
 * carries IPv6, IPv6 is not balanced at all (documented: left to the main table), so it is accepted untouched.
 */
function referenceVerdict(config: NftMwanConfig, p: Packet): { rule: Rule | undefined; verdict: string | null } {
  if (packetFamily(p) === 'ipv6' && !carries6(config)) return { rule: undefined, verdict: 'accept' };
  const rule = referenceRule(config, p);
  return { rule, verdict: rule ? targetOf(rule) : null };
}

// Shapes, as the config defines them: one family's view of rules of one shape with no packet matching both can
// share one lookup. A rule of both families is two views (IPv4 first), each of which may join its neighbours.
interface View {
  rule: Rule;
  family: Fam | 'any';
}
function viewsOf(rules: readonly Rule[], sets: SetsOf): View[] {
  return rules.flatMap((rule): View[] => {
    const families = ruleFamilies(rule, sets);
    return families === 'any' ? [{ rule, family: 'any' as const }] : families.map((family) => ({ rule, family }));
  });
}
function shapeOf(v: View): string {
  return JSON.stringify([protoNumber(v.rule.proto) === 'all' ? 'all' : v.rule.proto, v.family, FIELDS.filter((f) => v.rule[f] !== undefined)]);
}
function mergeable(v: View): boolean {
  return v.rule.set === undefined && v.rule.log !== true && FIELDS.some((f) => v.rule[f] !== undefined);
}
function disjoint(a: View, b: View): boolean {
  return FIELDS.some((f) => {
    const va = valuesOf(a.rule, f, a.family);
    const vb = valuesOf(b.rule, f, b.family);
    if (va === undefined || vb === undefined) return false;
    if (f === 'srcIface') return !(va as string[]).some((d) => (vb as string[]).includes(d));
    return !(va as [bigint, bigint][]).some(([a1, a2]) => (vb as [bigint, bigint][]).some(([b1, b2]) => a1 <= b2 && b1 <= a2));
  });
}
/**
 * Two neighbours that could share a lookup: then compile must emit fewer classify rules than views. Neighbours
 * as a packet of one family meets them: rules of the other family in between do not separate two rules of
 * one family. Two rules of either family ("any") are neighbours only with nothing at all between them.
 */
function hasMergeablePair(views: readonly View[]): boolean {
  return FAMS.some((family) => {
    const seen = views.filter((v) => v.family === family || v.family === 'any');
    return seen.some((v, i) => {
      const next = seen[i + 1];
      if (next === undefined || !mergeable(v) || !mergeable(next) || shapeOf(v) !== shapeOf(next) || !disjoint(v, next)) return false;
      return v.family !== 'any' || views.indexOf(next) === views.indexOf(v) + 1;
    });
  });
}

// ---------------------------------------------------------------------------------------------------------
// Random generation

/** mulberry32: a small seeded PRNG, so every failure can be replayed from its seed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)] as T;
  }
  /** 1 element most of the time, so rules of one shape are often disjoint. */
  list<T>(make: () => T): [T, ...T[]] {
    const n = this.chance(0.7) ? 1 : this.chance(0.65) ? 2 : 3;
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(make());
    return out as [T, ...T[]];
  }
}

const NETS = ['10.0.0', '10.0.1'];
/** Two /64s, hosts 0-f in the last group: as dense as the IPv4 nets, so IPv6 rules overlap and merge as often. */
const NETS6 = ['2001:db8::', '2001:db8:0:1::'];
const LAN_DEVICES = ['lan0', 'lan1', 'wg0'];
const WIDE = ['10.0.0.0/28', '10.0.1.0/28', '10.0.0.0/24', '10.0.0.0/23', '10.0.0.14-10.0.1.1', '10.0.0.8/29', '0.0.0.0/0'];
const WIDE6 = [
  '2001:db8::/124',
  '2001:db8:0:1::/124',
  '2001:db8::/64',
  '2001:db8::/63',
  '2001:db8::e-2001:db8:0:1::1',
  '2001:db8::8/125',
  '::/0',
  // Upper case, uncompressed and an IPv4 tail: compile must emit them as nft lists them.
  '2001:DB8::A',
  '2001:db8:0:0:0:0:0:4/126',
  '::ffff:10.0.0.0/124',
];

function genAddr(g: Gen, family: Fam): string {
  const r = g.int(0, 99);
  if (family === 'ipv6') {
    const net = g.pick(NETS6);
    const hex = (n: number) => n.toString(16);
    if (r < 40) {
      const host = g.int(0, 15);
      return g.chance(0.15) ? `${net}${hex(host)}/128` : `${net}${hex(host)}`;
    }
    if (r < 70) {
      const len = g.pick([126, 127, 127, 128]);
      const size = 2 ** (128 - len);
      return `${net}${hex(g.int(0, 16 / size - 1) * size)}/${len}`;
    }
    if (r < 92) {
      const from = g.int(0, 15);
      return `${net}${hex(from)}-${net}${hex(Math.min(15, from + g.int(0, 4)))}`;
    }
    return g.pick(WIDE6);
  }
  const net = g.pick(NETS);
  if (r < 40) {
    const host = g.int(0, 15);
    return g.chance(0.15) ? `${net}.${host}/32` : `${net}.${host}`;
  }
  if (r < 70) {
    const len = g.pick([30, 31, 31, 32]);
    const size = 2 ** (32 - len);
    return `${net}.${g.int(0, 16 / size - 1) * size}/${len}`;
  }
  if (r < 92) {
    const from = g.int(0, 15);
    return `${net}.${from}-${net}.${Math.min(15, from + g.int(0, 4))}`;
  }
  return g.pick(WIDE);
}

function genPort(g: Gen): number | string {
  const r = g.int(0, 99);
  const p = g.int(1, 20);
  if (r < 50) return p;
  if (r < 60) return String(p);
  if (r < 95) return `${p}-${Math.min(20, p + g.int(0, 4))}`;
  return g.pick<number | string>([0, '0-65535', '1-10', 65535]);
}

interface Shape {
  proto?: Rule['proto'];
  fields: Field[];
}
const SHAPES: readonly Shape[] = [
  { fields: ['destIp'] },
  { fields: ['destIp'] },
  { proto: 'all', fields: ['destIp'] },
  { fields: ['srcIp'] },
  { fields: ['srcIp', 'destIp'] },
  { fields: ['srcIface', 'destIp'] },
  { fields: ['srcIface'] },
  { proto: 'tcp', fields: ['destPort'] },
  { proto: 'tcp', fields: ['destIp', 'destPort'] },
  { proto: 'udp', fields: ['srcIp', 'srcPort', 'destPort'] },
  { proto: 'udp', fields: ['destPort'] },
  { proto: 'tcp', fields: ['srcIface', 'srcIp', 'destIp', 'srcPort', 'destPort'] },
  { proto: 'icmp', fields: ['destIp'] },
  { proto: 'icmpv6', fields: ['destIp'] },
  { proto: 'icmpv6', fields: ['srcIface'] },
  { proto: 47, fields: ['srcIp'] },
  { proto: 6, fields: ['destIp'] },
  { proto: 58, fields: ['srcIp'] },
];

/**
 * The address families a rule's addresses come from. Without `family` a rule may mix both (then it matches
 * each family by its own addresses); with one, only that family's addresses are valid.
 */
function genRuleFamily(g: Gen, proto: Rule['proto'], v6: boolean): { family?: Rule['family']; pool: Fam[] } {
  const r = g.int(0, 99);
  // Without an IPv6 WAN, IPv6 addresses in rules are a config error.
  if (!v6) return r < 90 || proto === 'icmpv6' ? { pool: ['ipv4'] } : { family: 'ipv4', pool: ['ipv4'] };
  if (r < 70) return { pool: ['ipv4', 'ipv6'] };
  if (r < 75) return { family: 'any', pool: ['ipv4', 'ipv6'] };
  // icmp is IPv4's and icmpv6 IPv6's: the other family is a config error.
  if (proto === 'icmp') return { family: 'ipv4', pool: ['ipv4'] };
  if (proto === 'icmpv6') return { family: 'ipv6', pool: ['ipv6'] };
  const family = g.chance(0.55) ? 'ipv6' : 'ipv4';
  return { family, pool: [family] };
}

function genRule(g: Gen, name: string, shape: Shape, policies: readonly string[], v6: boolean): Rule {
  const rule: Rule = { name, policy: g.pick(policies) };
  // Now and then sticky: the rule then leads to its own chain, so its map entry differs from its neighbours'.
  if (!SPECIAL_POLICIES.includes(rule.policy) && g.chance(0.08)) rule.sticky = true;
  if (shape.proto !== undefined) rule.proto = shape.proto;
  const { family, pool } = genRuleFamily(g, shape.proto, v6);
  if (family !== undefined) rule.family = family;
  // Most rules keep to one family; some mix both in one field (each family then matches its own).
  const ruleFam = g.pick(pool);
  const addrFam = () => (g.chance(0.15) ? g.pick(pool) : ruleFam);
  for (const f of shape.fields) {
    if (f === 'srcIface') rule.srcIface = g.chance(0.75) ? [g.pick(LAN_DEVICES)] : [g.pick(LAN_DEVICES), g.pick(LAN_DEVICES)];
    else if (f === 'srcIp' || f === 'destIp') rule[f] = g.list(() => genAddr(g, addrFam()));
    else rule[f] = g.list(() => genPort(g));
  }
  return rule;
}

function genConfig(g: Gen): NftMwanConfig {
  const nIfaces = g.int(2, 3);
  // Most configs carry IPv6 on some WAN; the rest must leave IPv6 alone whatever the rules say.
  const v6 = g.chance(0.85);
  const interfaces: NftMwanConfig['interfaces'] = {};
  for (let i = 1; i <= nIfaces; i++) {
    const family = v6 && i === 1 ? g.pick(['both', 'ipv6'] as const) : v6 ? g.pick(['ipv4', 'both', 'ipv6'] as const) : 'ipv4';
    interfaces[`wan${i}`] = { device: `eth${i}`, ...(family !== 'ipv4' || g.chance(0.5) ? { family } : {}) };
  }
  const ifaceNames = Object.keys(interfaces);
  const policies: NftMwanConfig['policies'] = {};
  for (const name of ['A', 'B', 'C'].slice(0, g.int(2, 3))) {
    const first = g.pick(ifaceNames);
    const second = g.pick(ifaceNames);
    policies[name] = { members: first === second ? [{ interface: first }] : [{ interface: first }, { interface: second, metric: 2 }] };
  }
  const ruleTargets = [...Object.keys(policies), ...Object.keys(policies), ...Object.keys(policies), ...SPECIAL_POLICIES];
  const shapes = [g.pick(SHAPES), g.pick(SHAPES), g.pick(SHAPES)].slice(0, g.int(1, 3));
  const sets = {
    S1: { type: 'ipv4_addr' as const, elements: [genAddr(g, 'ipv4'), genAddr(g, 'ipv4')] },
    S6: { type: 'ipv6_addr' as const, elements: [genAddr(g, 'ipv6'), genAddr(g, 'ipv6')] },
  };
  const total = g.int(1, 40);
  const rules: Rule[] = [];
  while (rules.length < total) {
    const name = () => `r${rules.length}`;
    const r = g.int(0, 99);
    if (r < 88) {
      // A run of one shape: where merging happens.
      const shape = g.pick(shapes);
      for (let n = g.int(1, 8); n > 0 && rules.length < total; n--) rules.push(genRule(g, name(), shape, ruleTargets, v6));
    } else if (r < 93) {
      // A catch-all (maybe one protocol, maybe one family): always alone.
      const rule: Rule = { name: name(), policy: g.pick(ruleTargets) };
      const proto = g.pick<Rule['proto'] | undefined>([undefined, 'all', 'icmp', 'icmpv6', 'udp', 'tcp', 47]);
      if (proto !== undefined) rule.proto = proto;
      const { family } = genRuleFamily(g, proto, v6);
      if (family !== undefined) rule.family = family;
      rules.push(rule);
    } else if (r < 97) {
      // A logged rule of a common shape: alone too.
      rules.push({ ...genRule(g, name(), g.pick(shapes), ruleTargets, v6), log: true });
    } else {
      const set = v6 && g.chance(0.5) ? 'S6' : 'S1';
      rules.push({ name: name(), set, policy: g.pick(ruleTargets), ...(g.chance(0.2) ? { family: set === 'S6' ? 'ipv6' : 'ipv4' } : {}) });
    }
  }
  return { interfaces, policies, rules, ...(rules.some((r) => r.set) ? { sets } : {}) };
}

function genPacket(g: Gen): Packet {
  const v6 = g.chance(0.45);
  const addr = () => {
    const r = g.int(0, 99);
    if (v6) {
      if (r < 85) return `${g.pick(NETS6)}${g.int(0, 15).toString(16)}`;
      if (r < 95) return g.pick(['2001:db8::10', '2001:db8::ffff', '2001:db8:0:1::100', '2001:db8:0:2::1', '::ffff:10.0.0.5']);
      return '2001:db8:ffff::9';
    }
    if (r < 85) return `${g.pick(NETS)}.${g.int(0, 15)}`;
    if (r < 95) return g.pick(['10.0.0.16', '10.0.0.20', '10.0.1.200', '10.0.2.1', '10.0.0.255']);
    return '192.168.7.9';
  };
  // Real packets only: ICMP travels in IPv4, ICMPv6 in IPv6.
  const l4proto = g.pick(v6 ? [6, 6, 6, 17, 17, 58, 47] : [6, 6, 6, 17, 17, 1, 47]);
  const p: Packet = { iifname: g.pick([...LAN_DEVICES, 'eth1']), l4proto, saddr: addr(), daddr: addr() };
  if (l4proto === 6 || l4proto === 17) {
    const port = () => (g.chance(0.95) ? g.int(1, 22) : g.pick([0, 65535, 1000]));
    p.sport = port();
    p.dport = port();
  }
  return p;
}

// ---------------------------------------------------------------------------------------------------------
// Checking one config

interface Stats {
  configs: number;
  packets: number;
  matched: number;
  mergedConfigs: number;
  mergeableConfigs: number;
  configRules: number;
  classifyRules: number;
  vmapRules: number;
  rulesInVmaps: number;
  /** Packets decided by a sticky, a named-set, a logged or a special-policy rule. */
  byKind: { sticky: number; set: number; log: number; special: number };
  /** IPv6 packets, those a rule matched, those decided by an IPv6 (ip6 key) map, and IPv6 left alone (no IPv6 WAN). */
  v6: { packets: number; matched: number; byV6Map: number; leftAlone: number };
  /** Packets decided by a rule that holds addresses of both families, and by a `family`-only rule. */
  mixedRule: number;
  familyOnlyRule: number;
}

const isUserRule = (comment: string | null) => comment !== null && /^rules? /.test(comment);

/** The classify rules compiled from the config's rules (the fixed ones before them carry no rule comment). */
function userClassifyRules(batch: unknown) {
  return chainRules(batch, 'classify').filter((r) => isUserRule(r.comment));
}

function names(comment: string | null): string[] | null {
  if (comment === null) return null;
  if (comment.startsWith('rule ')) return [comment.slice(5)];
  if (comment.startsWith('rules ') && !comment.includes('...')) return comment.slice(6).split(', ');
  return null;
}

/** Compiles one config and runs packets through it; returns a failure description or null. */
function checkConfig(config: NftMwanConfig, packets: readonly Packet[], stats: Stats, context: string): string | null {
  const validation = validateConfig(config);
  if (!validation.ok) return `${context}: generated config is invalid: ${JSON.stringify(validation.issues)}`;
  const plan = compile(validation.config);
  const batch = plan.nft;
  const rules = config.rules ?? [];
  const views = viewsOf(rules, setsOf(config));
  const all = chainRules(batch, 'classify');
  const firstUser = all.findIndex((r) => isUserRule(r.comment));
  if (firstUser >= 0 && all.slice(firstUser).some((r) => !isUserRule(r.comment))) return `${context}: a fixed classify rule comes after the config's rules`;
  const user = userClassifyRules(batch);
  const vmaps = user.filter((r) => r.expr.some((s) => typeof s === 'object' && s !== null && 'vmap' in s));
  stats.configs++;
  stats.configRules += rules.length;
  stats.classifyRules += user.length;
  stats.vmapRules += vmaps.length;
  for (const v of vmaps) stats.rulesInVmaps += names(v.comment)?.length ?? Number(/\((\d+)\)$/.exec(v.comment ?? '')?.[1] ?? 0);
  if (user.length < views.length) stats.mergedConfigs++;
  if (user.length > views.length) {
    return [
      `${context}: ${user.length} classify rules for ${views.length} rule views (one per family a rule matches)`,
      `  views: ${views.map((v) => `${v.rule.name}/${v.family}`).join(' ')}`,
      `  classify: ${user.map((r) => r.comment).join(' | ')}`,
      `  config rules: ${clip(JSON.stringify(rules))}`,
    ].join('\n');
  }
  if (hasMergeablePair(views)) {
    stats.mergeableConfigs++;
    if (user.length >= views.length) {
      return [
        `${context}: two neighbouring disjoint rules of one shape were not merged (${user.length} classify rules for ${views.length} rule views)`,
        `  views: ${views.map((v) => `${v.rule.name}/${v.family}`).join(' ')}`,
        `  config rules: ${clip(JSON.stringify(rules))}`,
      ].join('\n');
    }
  }
  // Named sets: the evaluator takes their elements from the batch, as compile fills them from the config.
  const overlaps = overlappingElements(batch, 'classify');
  if (overlaps.length > 0)
    return `${context}: nft would refuse overlapping elements:\n  ${overlaps.slice(0, 5).join('\n  ')}\n  config rules: ${clip(JSON.stringify(rules))}`;
  for (const p of packets) {
    stats.packets++;
    const v6 = packetFamily(p) === 'ipv6';
    if (v6) stats.v6.packets++;
    const { rule: want, verdict: expected } = referenceVerdict(config, p);
    if (want) {
      stats.matched++;
      if (v6) stats.v6.matched++;
      if (want.sticky) stats.byKind.sticky++;
      if (want.set !== undefined) stats.byKind.set++;
      if (want.log) stats.byKind.log++;
      if (SPECIAL_POLICIES.includes(want.policy)) stats.byKind.special++;
      const texts = [...(want.srcIp ?? []), ...(want.destIp ?? [])];
      if (texts.some((t) => t.includes(':')) && texts.some((t) => !t.includes(':'))) stats.mixedRule++;
      if ((want.family === 'ipv4' || want.family === 'ipv6') && texts.length === 0 && want.set === undefined) stats.familyOnlyRule++;
    } else if (expected === 'accept') stats.v6.leftAlone++;
    let got: ReturnType<typeof evalClassifyDetailed>;
    try {
      got = evalClassifyDetailed(batch, p);
    } catch (e) {
      return `${context}: packet ${JSON.stringify(p)}: ${(e as Error).message}\nconfig: ${clip(JSON.stringify(config))}`;
    }
    const v = got.verdict;
    const actual = v.kind === 'goto' || v.kind === 'jump' ? v.target : v.kind === 'accept' || v.kind === 'drop' ? v.kind : null;
    if (
      v6 &&
      got.ruleIndex !== null &&
      JSON.stringify(all[got.ruleIndex]?.expr).includes('"vmap"') &&
      JSON.stringify(all[got.ruleIndex]?.expr).includes('"ip6"')
    )
      stats.v6.byV6Map++;
    const decidedBy = names(got.comment);
    const wrongRule = want !== undefined && decidedBy !== null && !decidedBy.includes(want.name);
    if (actual !== expected || wrongRule) {
      return [
        `${context}: packet ${JSON.stringify(p)}`,
        `  expected ${expected} (rule ${want?.name ?? 'none'}), got ${actual} (classify rule "${got.comment}")`,
        `  interfaces: ${JSON.stringify(config.interfaces)}`,
        `  config rules: ${clip(JSON.stringify(rules))}`,
        `  classify: ${clip(JSON.stringify(user))}`,
      ].join('\n');
    }
  }
  return null;
}

const clip = (text: string) => (text.length > 6000 ? `${text.slice(0, 6000)}... (${text.length} characters)` : text);

function newStats(): Stats {
  return {
    configs: 0,
    packets: 0,
    matched: 0,
    mergedConfigs: 0,
    mergeableConfigs: 0,
    configRules: 0,
    classifyRules: 0,
    vmapRules: 0,
    rulesInVmaps: 0,
    byKind: { sticky: 0, set: 0, log: 0, special: 0 },
    v6: { packets: 0, matched: 0, byV6Map: 0, leftAlone: 0 },
    mixedRule: 0,
    familyOnlyRule: 0,
  };
}

// ---------------------------------------------------------------------------------------------------------

const BASE = {
  interfaces: { wan1: { device: 'eth1' }, wan2: { device: 'eth2' } },
  policies: {
    A: { members: [{ interface: 'wan1' }] },
    B: { members: [{ interface: 'wan2' }] },
    C: { members: [{ interface: 'wan1' }, { interface: 'wan2' }] },
  },
} satisfies NftMwanConfig;

function configWith(rules: Rule[], extra: Partial<NftMwanConfig> = {}): NftMwanConfig {
  const config = { ...BASE, ...extra, rules };
  const v = validateConfig(config);
  if (!v.ok) throw new Error(`invalid test config: ${JSON.stringify(v.issues)}`);
  return config;
}

/** The tests build configs as a user writes them; compile and explain read them resolved. */
const compileRaw = (config: NftMwanConfig, facts?: SystemFacts) => compile(normalize(config), facts);

const pkt = (daddr: string, more: Partial<Packet> = {}): Packet => ({
  iifname: 'lan0',
  l4proto: 6,
  saddr: '10.0.0.100',
  daddr,
  sport: 40000,
  dport: 443,
  ...more,
});

describe('classify rules: merged verdict maps keep first-match-wins semantics', () => {
  it('agrees with the one-by-one reference on random configs (seeded)', () => {
    // RULES_PROPERTY_SEED=n changes the base seed; RULES_PROPERTY_ONLY=seed replays one config of a failure.
    const SEED = Number(process.env.RULES_PROPERTY_SEED ?? 0x5eed1);
    const ONLY = process.env.RULES_PROPERTY_ONLY;
    const CONFIGS = ONLY === undefined ? 300 : 1;
    const PACKETS = 200;
    const stats = newStats();
    for (let i = 0; i < CONFIGS; i++) {
      const seed = ONLY === undefined ? (SEED + i * 0x9e3779b1) >>> 0 : Number(ONLY);
      const g = new Gen(seed);
      const config = genConfig(g);
      const packets = Array.from({ length: PACKETS }, () => genPacket(g));
      const failure = checkConfig(config, packets, stats, `seed ${seed} (config #${i}, base seed ${SEED})`);
      if (failure) expect.fail(failure);
    }
    console.log(
      `rules-property: ${stats.configs} configs, ${stats.packets} packets (${((100 * stats.matched) / stats.packets).toFixed(1)}% matched a rule); ` +
        `merging in ${stats.mergedConfigs} configs (${stats.mergeableConfigs} had a mergeable neighbour pair); ` +
        `${stats.configRules} config rules -> ${stats.classifyRules} classify rules, ` +
        `${stats.vmapRules} vmaps holding ${stats.rulesInVmaps} rules; packets decided by kind ${JSON.stringify(stats.byKind)}; ` +
        `IPv6 ${JSON.stringify(stats.v6)}; by a two-family rule ${stats.mixedRule}, by a family-only rule ${stats.familyOnlyRule}`,
    );
    // The generator must exercise what it is for.
    expect(stats.configs).toBe(CONFIGS);
    if (ONLY !== undefined) return;
    expect(stats.mergedConfigs).toBeGreaterThan(CONFIGS / 2);
    expect(stats.matched / stats.packets).toBeGreaterThan(0.3);
    expect(stats.matched).toBeLessThan(stats.packets);
    for (const n of Object.values(stats.byKind)) expect(n).toBeGreaterThan(100);
    // IPv6 as much as IPv4: matched by rules, decided by ip6 verdict maps, and left alone without an IPv6 WAN.
    expect(stats.v6.packets).toBeGreaterThan(stats.packets / 3);
    expect(stats.v6.matched / stats.v6.packets).toBeGreaterThan(0.3);
    expect(stats.v6.byV6Map).toBeGreaterThan(500);
    expect(stats.v6.leftAlone).toBeGreaterThan(100);
    expect(stats.mixedRule).toBeGreaterThan(100);
    expect(stats.familyOnlyRule).toBeGreaterThan(100);
  }, 120_000);

  it('1,000 rules each pinning a distinct /32 compile to one classify rule that agrees on 2,000 packets', () => {
    const g = new Gen(1000);
    const policies = ['A', 'B', 'C'];
    const addrOf = (i: number) => `10.1.${i >> 8}.${i & 255}`;
    const rules: Rule[] = Array.from({ length: 1000 }, (_, i) => ({
      name: `pin${i}`,
      destIp: [i % 7 === 0 ? `${addrOf(i)}/32` : addrOf(i)],
      policy: g.pick(policies),
    }));
    const config = configWith(rules);
    const batch = compileRaw(config).nft;
    const classify = userClassifyRules(batch);
    expect(classify).toHaveLength(1);
    expect(classify[0]?.comment).toBe('rules pin0, pin1, pin2 ... pin999 (1000)');
    const stats = newStats();
    const packets = Array.from({ length: 2000 }, () =>
      pkt(g.chance(0.9) ? addrOf(g.int(0, 1030)) : `10.${g.int(0, 2)}.${g.int(0, 4)}.${g.int(0, 255)}`, { l4proto: g.pick([1, 6, 17]) }),
    );
    const failure = checkConfig(config, packets, stats, 'pinned /32s');
    if (failure) expect.fail(failure);
    expect(stats.matched).toBeGreaterThan(1500);
  }, 120_000);

  it('1,000 rules each pinning an IPv4 /32 and an IPv6 /128 compile to one lookup per family that agrees on 2,000 packets', () => {
    const g = new Gen(1001);
    const v4 = (i: number) => `10.1.${i >> 8}.${i & 255}`;
    const v6 = (i: number) => `2001:db8:1::${i.toString(16)}`;
    const rules: Rule[] = Array.from({ length: 1000 }, (_, i) => ({
      name: `pin${i}`,
      destIp: [v4(i), i % 5 === 0 ? `${v6(i)}/128` : v6(i)],
      policy: g.pick(['A', 'B', 'C']),
    }));
    const config = configWith(rules, { interfaces: { wan1: { device: 'eth1', family: 'both' }, wan2: { device: 'eth2', family: 'both' } } });
    const classify = userClassifyRules(compileRaw(config).nft);
    expect(classify.map((r) => r.comment)).toEqual(['rules pin0, pin1, pin2 ... pin999 (1000)', 'rules pin0, pin1, pin2 ... pin999 (1000)']);
    expect(classify.map((r) => JSON.stringify(r.expr).includes('"ip6"'))).toEqual([false, true]);
    const stats = newStats();
    const packets = Array.from({ length: 2000 }, () => {
      const i = g.int(0, 1030);
      return g.chance(0.5) ? pkt(v4(i), { l4proto: g.pick([1, 6, 17]) }) : pkt(v6(i), { saddr: '2001:db8::100', l4proto: g.pick([58, 6, 17]) });
    });
    const failure = checkConfig(config, packets, stats, 'pinned /32s and /128s');
    if (failure) expect.fail(failure);
    expect(stats.v6.matched).toBeGreaterThan(800);
    expect(stats.matched - stats.v6.matched).toBeGreaterThan(800);
  }, 120_000);

  it('20 disjoint destIp rules become one vmap', () => {
    const rules: Rule[] = Array.from({ length: 20 }, (_, i) => ({ name: `d${i}`, destIp: [`10.0.${i}.0/24`], policy: i % 2 ? 'A' : 'B' }));
    const batch = compileRaw(configWith(rules)).nft;
    const user = userClassifyRules(batch);
    expect(user).toHaveLength(1);
    expect(evalClassify(batch, pkt('10.0.7.9'))).toBe('policy_A');
    expect(evalClassify(batch, pkt('10.0.8.9'))).toBe('policy_B');
    expect(evalClassify(batch, pkt('10.0.20.1'))).toBeNull();
  });

  it('an overlapped later rule of the same shape never matches: the earlier one wins', () => {
    const config = configWith([
      { name: 'wide', destIp: ['10.0.0.0/24'], policy: 'A' },
      { name: 'narrow', destIp: ['10.0.0.5'], policy: 'B' },
    ]);
    const batch = compileRaw(config).nft;
    expect(userClassifyRules(batch)).toHaveLength(2);
    expect(evalClassify(batch, pkt('10.0.0.5'))).toBe('policy_A');
    expect(evalClassify(batch, pkt('10.0.0.200'))).toBe('policy_A');
    expect(evalClassify(batch, pkt('10.0.1.5'))).toBeNull();
    // A third rule disjoint from "narrow" may join it, even though it overlaps "wide", which runs first anyway.
    const three = compileRaw(configWith([...(config.rules ?? []), { name: 'more', destIp: ['10.0.0.6-10.0.1.3'], policy: 'C' }])).nft;
    expect(userClassifyRules(three).map((r) => r.comment)).toEqual(['rule wide', 'rules narrow, more']);
    expect(evalClassify(three, pkt('10.0.0.6'))).toBe('policy_A');
    expect(evalClassify(three, pkt('10.0.1.2'))).toBe('policy_C');
  });

  it('rules of one shape separated by another shape are not merged across it', () => {
    const config = configWith([
      { name: 'd1', destIp: ['10.0.0.1'], policy: 'A' },
      { name: 's', srcIp: ['10.0.0.9'], policy: 'B' },
      { name: 'd2', destIp: ['10.0.0.2'], policy: 'C' },
      { name: 'd3', destIp: ['10.0.0.3'], policy: 'unreachable' },
    ]);
    const batch = compileRaw(config).nft;
    expect(userClassifyRules(batch).map((r) => r.comment)).toEqual(['rule d1', 'rule s', 'rules d2, d3']);
    expect(evalClassify(batch, pkt('10.0.0.2', { saddr: '10.0.0.9' }))).toBe('policy_B');
    expect(evalClassify(batch, pkt('10.0.0.1', { saddr: '10.0.0.9' }))).toBe('policy_A');
    expect(evalClassify(batch, pkt('10.0.0.2'))).toBe('policy_C');
    expect(evalClassify(batch, pkt('10.0.0.3'))).toBe('mark__unreachable');
  });

  it('concatenated keys with address and port ranges', () => {
    const config = configWith([
      { name: 'c1', proto: 'tcp', srcIp: ['10.0.0.0-10.0.0.9'], destPort: ['1-100', 443], policy: 'A' },
      { name: 'c2', proto: 'tcp', srcIp: ['10.0.0.10-10.0.0.20'], destPort: ['50-60'], policy: 'B' },
      { name: 'c3', proto: 'tcp', srcIp: ['10.0.0.0/28'], destPort: ['101-442'], policy: 'blackhole' },
      { name: 'c4', proto: 'tcp', srcIp: ['10.0.0.5'], destPort: [80], policy: 'C' }, // overlaps c1: alone, never matches
    ]);
    const batch = compileRaw(config).nft;
    const user = userClassifyRules(batch);
    expect(user.map((r) => r.comment)).toEqual(['rules c1, c2, c3', 'rule c4']);
    expect(JSON.stringify(user[0]?.expr)).toContain('"concat"');
    const t = (saddr: string, dport: number, l4proto = 6) => evalClassify(batch, pkt('1.1.1.1', { saddr, dport, l4proto }));
    expect(t('10.0.0.0', 1)).toBe('policy_A');
    expect(t('10.0.0.9', 100)).toBe('policy_A');
    expect(t('10.0.0.9', 443)).toBe('policy_A');
    expect(t('10.0.0.5', 80)).toBe('policy_A');
    expect(t('10.0.0.10', 50)).toBe('policy_B');
    expect(t('10.0.0.20', 60)).toBe('policy_B');
    expect(t('10.0.0.21', 60)).toBeNull();
    expect(t('10.0.0.10', 61)).toBeNull();
    expect(t('10.0.0.15', 101)).toBe('mark__blackhole');
    expect(t('10.0.0.16', 101)).toBeNull();
    expect(t('10.0.0.0', 443)).toBe('policy_A');
    expect(t('10.0.0.10', 443)).toBeNull();
    // tcp ports never match a udp packet.
    expect(t('10.0.0.0', 1, 17)).toBeNull();
  });

  it('input devices, protocols and catch-alls', () => {
    const config = configWith([
      { name: 'i1', srcIface: ['lan0', 'wg0'], destIp: ['10.0.0.0/24'], policy: 'A' },
      { name: 'i2', srcIface: ['lan1'], destIp: ['10.0.0.0/24'], policy: 'B' },
      { name: 'i3', srcIface: ['lan0'], destIp: ['10.0.1.0/24'], policy: 'C' },
      { name: 'ping', proto: 'icmp', policy: 'B' },
      { name: 'p6', proto: 6, destIp: ['10.0.2.1'], policy: 'A' },
      { name: 'ptcp', proto: 'tcp', destIp: ['10.0.2.2'], policy: 'B' },
      { name: 'all', policy: 'default' },
    ]);
    const batch = compileRaw(config).nft;
    expect(userClassifyRules(batch).map((r) => r.comment)).toEqual(['rules i1, i2, i3', 'rule ping', 'rule p6', 'rule ptcp', 'rule all']);
    expect(evalClassify(batch, pkt('10.0.0.1', { iifname: 'wg0' }))).toBe('policy_A');
    expect(evalClassify(batch, pkt('10.0.0.1', { iifname: 'lan1' }))).toBe('policy_B');
    expect(evalClassify(batch, pkt('10.0.1.1', { iifname: 'lan0' }))).toBe('policy_C');
    expect(evalClassify(batch, pkt('10.0.1.1', { iifname: 'lan1', l4proto: 1 }))).toBe('policy_B');
    expect(evalClassify(batch, pkt('10.0.2.1'))).toBe('policy_A');
    expect(evalClassify(batch, pkt('10.0.2.1', { l4proto: 17 }))).toBe('mark__default');
    expect(evalClassify(batch, pkt('10.0.2.2'))).toBe('policy_B');
    expect(evalClassify(batch, pkt('10.0.9.9', { iifname: 'eth1' }))).toBe('mark__default');
  });

  it('local, broadcast and bypassed destinations are accepted before any rule', () => {
    const config = configWith([{ name: 'all', policy: 'A' }], { globals: { bypass: ['192.168.0.0/16'] } });
    const batch = compileRaw(config, { autoGateways: {}, connected: ['10.9.0.0/24'], previousIds: {} }).nft;
    const fibType = (d: string) => (d === '10.9.0.1' ? 'local' : d === '10.9.0.255' ? 'broadcast' : 'unicast');
    expect(evalClassify(batch, pkt('10.9.0.1'), { fibType })).toBe('accept');
    expect(evalClassify(batch, pkt('10.9.0.255'), { fibType })).toBe('accept');
    expect(evalClassify(batch, pkt('10.9.0.7'), { fibType })).toBe('accept');
    expect(evalClassify(batch, pkt('192.168.44.1'), { fibType })).toBe('accept');
    expect(evalClassify(batch, pkt('8.8.8.8'), { fibType })).toBe('policy_A');
  });
});

// explain once ignored srcIface and set, naming a rule the classify chain never applies to the flow.
describe('explain agrees with the classify chain', () => {
  const config = configWith(
    [
      { name: 'fromlan9', srcIface: ['lan9'], policy: 'A' },
      { name: 'inset', set: 'S1', policy: 'A' },
      { name: 'rest', policy: 'B' },
    ],
    { sets: { S1: { type: 'ipv4_addr', elements: ['1.2.3.0/24'] } } },
  );
  const plan = compileRaw(config);
  const flow = { src: '192.168.1.10', dst: '8.8.8.8', proto: 'tcp' as const, sport: 40000, dport: 443 };
  const packet: Packet = { iifname: 'lan0', l4proto: 6, saddr: flow.src, daddr: flow.dst, sport: flow.sport, dport: flow.dport };

  it('the classify chain sends 8.8.8.8 from lan0 to the catch-all', () => {
    expect(evalClassify(plan.nft, packet)).toBe('policy_B');
  });

  it('explain does not claim a srcIface rule for a flow that did not come in on that device', () => {
    expect(explain(normalize(config), plan, { ...flow, iif: 'lan0' }, { bypass: [], local: [] }).rule).not.toBe('fromlan9');
    expect(explain(normalize(config), plan, { ...flow, iif: 'lan9' }, { bypass: [], local: [] }).rule).toBe('fromlan9');
  });

  it('explain does not claim a set rule for a destination outside the set', () => {
    const withoutIface = configWith(config.rules?.slice(1) ?? [], { sets: config.sets ?? {} });
    const sets = { S1: ['1.2.3.0/24'] };
    const e = explain(normalize(withoutIface), compileRaw(withoutIface), flow, { bypass: [], local: [], sets });
    expect(evalClassify(compileRaw(withoutIface).nft, packet)).toBe('policy_B');
    expect(e.rule).toBe('rest');
    expect(explain(normalize(withoutIface), compileRaw(withoutIface), { ...flow, dst: '1.2.3.4' }, { bypass: [], local: [], sets }).rule).toBe('inset');
  });
});

describe('nft-eval itself', () => {
  const rule = (expr: unknown[]) => ({ add: { rule: { family: 'inet', table: 't', chain: 'classify', expr } } });
  const daddr = { payload: { protocol: 'ip', field: 'daddr' } };
  const dport = { payload: { protocol: 'tcp', field: 'dport' } };

  it('evaluates matches on values, prefixes, ranges, anonymous and named sets, and != ', () => {
    const batch = {
      nftables: [
        rule([{ match: { op: '!=', left: { meta: { key: 'iifname' } }, right: { set: ['lan*', 'wg0'] } } }, { goto: { target: 'not_lan' } }]),
        rule([{ match: { op: '==', left: daddr, right: '@s' } }, { log: { prefix: 'x' } }, { jump: { target: 'in_s' } }]),
        rule([{ match: { op: 'in', left: dport, right: { set: [1, { range: [5, 7] }] } } }, { goto: { target: 'ports' } }]),
        rule([
          { match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'udp' } },
          { match: { op: '==', left: daddr, right: { prefix: { addr: '10.0.0.0', len: 8 } } } },
          { goto: { target: 'udp10' } },
        ]),
      ],
    };
    const sets = { s: [{ range: ['1.1.1.1', '1.1.1.3'] }, '2.2.2.2'] };
    expect(evalClassify(batch, pkt('1.1.1.1', { iifname: 'eth0' }), { sets })).toBe('not_lan');
    expect(evalClassify(batch, pkt('1.1.1.3', { iifname: 'lan5' }), { sets })).toBe('in_s');
    expect(evalClassify(batch, pkt('2.2.2.2', { iifname: 'wg0' }), { sets })).toBe('in_s');
    expect(evalClassify(batch, pkt('1.1.1.4', { dport: 6 }), { sets })).toBe('ports');
    expect(evalClassify(batch, pkt('1.1.1.4', { dport: 6, l4proto: 17 }), { sets })).toBeNull();
    expect(evalClassify(batch, pkt('10.200.0.1', { l4proto: 17 }), { sets })).toBe('udp10');
    expect(evalClassify(batch, pkt('11.0.0.0', { l4proto: 17 }), { sets })).toBeNull();
  });

  it('IPv6: ip6 keys meet only IPv6 packets and ip keys only IPv4 ones; prefixes, ranges, nfproto and listed names', () => {
    const daddr6 = { payload: { protocol: 'ip6', field: 'daddr' } };
    const batch = {
      nftables: [
        rule([
          {
            match: {
              op: '==',
              left: daddr6,
              right: { set: [{ prefix: { addr: '2001:db8::', len: 126 } }, { range: ['2001:db8::10', '2001:db8::12'] }, '::ffff:192.0.2.1'] },
            },
          },
          { goto: { target: 'six' } },
        ]),
        rule([{ match: { op: '==', left: daddr, right: { prefix: { addr: '0.0.0.0', len: 0 } } } }, { goto: { target: 'four' } }]),
        rule([{ match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'ipv6-icmp' } }, { goto: { target: 'icmp6' } }]),
        rule([{ match: { op: '==', left: { meta: { key: 'nfproto' } }, right: 'ipv6' } }, { goto: { target: 'other6' } }]),
      ],
    };
    const p6 = (d: string, more: Partial<Packet> = {}) => pkt(d, { saddr: '2001:db8:10::2', ...more });
    expect(evalClassify(batch, p6('2001:db8::3'))).toBe('six');
    expect(evalClassify(batch, p6('2001:DB8:0:0:0:0:0:11'))).toBe('six');
    expect(evalClassify(batch, p6('::ffff:c000:201'))).toBe('six');
    expect(evalClassify(batch, p6('2001:db8::4'))).toBe('other6');
    expect(evalClassify(batch, p6('2001:db8::4', { l4proto: 58 }))).toBe('icmp6');
    // `ip daddr` over 0.0.0.0/0 still never meets an IPv6 packet, nor `ip6 daddr` an IPv4 one.
    expect(evalClassify(batch, pkt('192.0.2.1'))).toBe('four');
    expect(() => evalClassify(batch, pkt('2001:db8::3'))).toThrow(/mixes families/);
    expect(
      overlappingElements(
        {
          nftables: [
            rule([
              {
                vmap: {
                  key: daddr6,
                  data: {
                    set: [
                      [{ prefix: { addr: '2001:db8::', len: 64 } }, { goto: { target: 'a' } }],
                      ['2001:db8::ffff', { goto: { target: 'b' } }],
                    ],
                  },
                },
              },
            ]),
          ],
        },
        'classify',
      ),
    ).toHaveLength(1);
  });

  it('refuses forms it does not know and overlapping map elements', () => {
    expect(() => evalClassify({ nftables: [rule([{ match: { op: '==', left: { ct: { key: 'state' } }, right: 'new' } }])] }, pkt('1.1.1.1'))).toThrow(
      /unsupported/,
    );
    const overlapping = {
      nftables: [
        rule([
          {
            vmap: {
              key: daddr,
              data: {
                set: [
                  [{ prefix: { addr: '1.1.1.0', len: 24 } }, { goto: { target: 'a' } }],
                  ['1.1.1.1', { goto: { target: 'b' } }],
                ],
              },
            },
          },
        ]),
      ],
    };
    expect(() => evalClassify(overlapping, pkt('1.1.1.1'))).toThrow(/overlapping/);
    expect(evalClassify(overlapping, pkt('1.1.1.2'))).toBe('a');
    expect(overlappingElements(overlapping, 'classify')).toHaveLength(1);
    const concat = { concat: [daddr, dport] };
    const disjointPairs = {
      nftables: [
        rule([
          {
            vmap: {
              key: concat,
              data: {
                set: [
                  [{ concat: [{ prefix: { addr: '1.1.1.0', len: 24 } }, { range: [1, 5] }] }, { goto: { target: 'a' } }],
                  [{ concat: ['1.1.1.1', 6] }, { goto: { target: 'b' } }],
                ],
              },
            },
          },
        ]),
      ],
    };
    expect(overlappingElements(disjointPairs, 'classify')).toEqual([]);
    expect(evalClassify(disjointPairs, pkt('1.1.1.1', { dport: 6 }))).toBe('b');
    expect(evalClassify(disjointPairs, pkt('1.1.1.1', { dport: 5 }))).toBe('a');
    expect(evalClassify(disjointPairs, pkt('1.1.1.1', { dport: 5, l4proto: 17 }))).toBeNull();
  });
});
