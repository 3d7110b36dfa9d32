// User rules -> classify chain statements at flat cost: consecutive rules of the same shape whose matches
// cannot overlap become ONE verdict-map lookup, so first match wins exactly as if evaluated one by one. Pure.
import { MwanError } from '../model/errors.js';
import type { ResolvedRule } from '../config/resolved.js';
import { normaliseIpIntervals, parseIpElement, parsePort, type IpFamilyName, type IpInterval, type PortRange } from '../model/net.js';
import { maskPrefix, parseMaskedIpv4, type MaskedIpv4 } from '../model/masked.js';
import { formatIpv4 } from '../model/net.js';
import * as x from './nft-expr.js';
import { DisjointIndex, type Interval } from './classify-index.js';

type Field = 'srcIface' | 'srcIp' | 'destIp' | 'srcPort' | 'destPort';
const FIELDS: readonly Field[] = ['srcIface', 'srcIp', 'destIp', 'srcPort', 'destPort'];

/** One rule for one family, parsed: per present field its values as inclusive intervals (device names as themselves). */
interface Parsed {
  rule: ResolvedRule;
  proto: ResolvedRule['proto'];
  /** 'any' when nothing in the rule ties it to one family. */
  family: IpFamilyName | 'any';
  fields: Partial<Record<Field, IpInterval[] | PortRange[] | string[]>>;
  /** An address with a non-contiguous mask (`ip saddr & MASK == ADDR`): no interval, so the rule stands alone. */
  masked: Partial<Record<'srcIp' | 'destIp', MaskedIpv4>>;
  /**
   * Shape: the rules that can share one map lookup have the same one, the protocol, family and fields present
   * (a bit per field, in FIELDS' order): compared as they are, no key text built per rule.
   */
  present: number;
  /** The one field present, when there is one (a group keyed on it is indexed). */
  key: Field | null;
  /** Named-set, log and catch-all rules are always emitted on their own. */
  alone: boolean;
  target: string;
}

export interface ClassifyRule {
  expr: x.Stmt[];
  comment: string;
}

/**
 * `target(rule)` names the chain a match goes to (a policy chain, a sticky chain, a special mark chain).
 * The result, in order, is the tail of the classify chain.
 */
export function compileRules(
  rules: readonly ResolvedRule[],
  target: (rule: ResolvedRule) => string,
  sets: Readonly<Record<string, { type: string }>> = {},
): ClassifyRule[] {
  // Indexed loops here and below: an apply runs this cold, once per rule, where an iterator per loop counts.
  const parsed: Parsed[] = [];
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i] as ResolvedRule;
    parse(parsed, r, target(r), sets);
  }
  const out: (ClassifyRule | null)[] = [];
  // One open group per family: a packet is only ever one family, so an IPv4 rule and an IPv6 rule never
  // compete and the order between them is free. A group stays open across the other family's rules (rules
  // holding both families, one after another, still merge) and takes the place of its first member: every
  // later rule a packet of its family could meet (its family's next group, a rule of either family, "any")
  // closes it first, so comes after it.
  const groups = new Map<Parsed['family'], { members: Parsed[]; index: DisjointIndex; slot: number }>();
  const flush = (family: Parsed['family']) => {
    const group = groups.get(family);
    if (group === undefined) return;
    out[group.slot] = group.members.length === 1 ? single(group.members[0] as Parsed) : mapped(group.members);
    groups.delete(family);
  };
  for (let i = 0; i < parsed.length; i++) {
    const p = parsed[i] as Parsed;
    if (p.family === 'any') {
      flush('ipv4');
      flush('ipv6');
    } else {
      flush('any');
    }
    const open = groups.get(p.family);
    const fits = open !== undefined && !p.alone && sameShape(open.members[0] as Parsed, p) && !overlapsGroup(open.members, open.index, p);
    if (!fits) flush(p.family);
    let group = groups.get(p.family);
    if (group === undefined) {
      group = { members: [], index: new DisjointIndex(), slot: out.push(null) - 1 };
      groups.set(p.family, group);
    }
    group.members.push(p);
    addToIndex(group.index, p);
    if (p.alone) flush(p.family);
  }
  for (const f of ['any', 'ipv4', 'ipv6'] as const) flush(f);
  return out.filter((r): r is ClassifyRule => r !== null);
}

function sameShape(a: Parsed, b: Parsed): boolean {
  return a.present === b.present && a.proto === b.proto && a.family === b.family;
}

function overlapsGroup(group: readonly Parsed[], index: DisjointIndex, p: Parsed): boolean {
  const f = p.key;
  // One key field: the group's values are disjoint, the index answers. Several: compare rule by rule.
  if (f === 'srcIface') return index.meetsNames(p.fields.srcIface as string[]);
  if (f !== null) return index.meetsIntervals(p.fields[f] as Interval[]);
  return group.some((g) => overlaps(g, p));
}

/** Adds a single-field rule's values to its group's index (a rule keyed on several fields is compared rule by rule). */
function addToIndex(index: DisjointIndex, p: Parsed): void {
  if (p.key === 'srcIface') index.addNames(p.fields.srcIface as string[]);
  else if (p.key !== null) index.addIntervals(p.fields[p.key] as Interval[]);
}

/**
 * A rule whose addresses hold both families becomes one parsed rule per family (a packet is only ever one
 * of them, so first-match order is kept), appended to `out`.
 */
function parse(out: Parsed[], rule: ResolvedRule, target: string, sets: Readonly<Record<string, { type: string }>>): void {
  // Written as plain loops with flags: an apply runs this cold, once per rule, where every array and closure counts.
  const masked: Parsed['masked'] = {};
  const src = rule.srcIp === undefined ? undefined : addressesOf(rule.srcIp, 'srcIp', masked);
  const dest = rule.destIp === undefined ? undefined : addressesOf(rule.destIp, 'destIp', masked);
  const isMasked = masked.srcIp !== undefined || masked.destIp !== undefined;
  let has4 = isMasked || rule.proto === 'icmp' || (rule.set !== undefined && sets[rule.set]?.type !== 'ipv6_addr');
  let has6 = rule.proto === 'icmpv6' || (rule.set !== undefined && sets[rule.set]?.type === 'ipv6_addr');
  if (src !== undefined) {
    for (let i = 0; i < src.length; i++) {
      if ((src[i] as IpInterval).family === 'ipv4') has4 = true;
      else has6 = true;
    }
  }
  if (dest !== undefined) {
    for (let i = 0; i < dest.length; i++) {
      if ((dest[i] as IpInterval).family === 'ipv4') has4 = true;
      else has6 = true;
    }
  }
  if (rule.family === 'ipv4' || rule.family === 'ipv6') parseOne(out, rule, target, rule.family, src, dest, masked, isMasked);
  else if (has4 || has6) {
    if (has4) parseOne(out, rule, target, 'ipv4', src, dest, masked, isMasked);
    if (has6) parseOne(out, rule, target, 'ipv6', src, dest, masked, isMasked);
  } else parseOne(out, rule, target, 'any', src, dest, masked, isMasked);
}

/** A field's addresses as intervals, or (a lone non-contiguous ADDR/MASK) recorded in `masked` instead. */
function addressesOf(texts: readonly string[], f: 'srcIp' | 'destIp', masked: Parsed['masked']): IpInterval[] | undefined {
  const m = texts.length === 1 ? parseMaskedIpv4(texts[0] as string) : undefined;
  // A contiguous mask is a prefix: nft lists `& 255.255.0.0 == 10.1.0.0` back as 10.1.0.0/16, so it is sent as one.
  const prefix = m === undefined ? undefined : maskPrefix(m.mask);
  if (m !== undefined && prefix === undefined) {
    masked[f] = m;
    return undefined;
  }
  const out: IpInterval[] = [];
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i] as string;
    const e = parseIpElement(m === undefined ? t : `${formatIpv4(m.addr)}/${String(prefix)}`);
    if ('error' in e) throw new MwanError({ code: 'INTERNAL', summary: `unvalidated address ${t}` });
    out.push(e.interval);
  }
  return out;
}

/** Appends the rule as one family sees it, unless no packet of that family can match it. */
function parseOne(
  out: Parsed[],
  rule: ResolvedRule,
  target: string,
  family: Parsed['family'],
  src: IpInterval[] | undefined,
  dest: IpInterval[] | undefined,
  masked: Parsed['masked'],
  isMasked: boolean,
): void {
  if (isMasked && family !== 'ipv4') return;
  // icmp is IPv4's and icmpv6 IPv6's: an icmpv6 rule's IPv4 addresses (and the reverse) can never match.
  if ((rule.proto === 'icmp' && family === 'ipv6') || (rule.proto === 'icmpv6' && family === 'ipv4')) return;
  const fields: Parsed['fields'] = {};
  if (rule.srcIface) fields.srcIface = [...new Set(rule.srcIface)].sort();
  const srcIp = src === undefined ? undefined : ofFamily(src, family);
  const destIp = dest === undefined ? undefined : ofFamily(dest, family);
  // This family has no address in a field the rule restricts: the rule cannot match it.
  if (srcIp === null || destIp === null) return;
  if (srcIp !== undefined) fields.srcIp = srcIp;
  if (destIp !== undefined) fields.destIp = destIp;
  if (rule.srcPort) fields.srcPort = portsOf(rule.srcPort);
  if (rule.destPort) fields.destPort = portsOf(rule.destPort);
  let present = 0;
  let count = 0;
  let key: Field | null = null;
  for (let i = 0; i < FIELDS.length; i++) {
    const f = FIELDS[i] as Field;
    if (fields[f] === undefined) continue;
    present |= 1 << i;
    count++;
    key = f;
  }
  out.push({
    rule,
    proto: rule.proto,
    family,
    fields,
    masked,
    present,
    key: count === 1 ? key : null,
    alone: rule.set !== undefined || rule.log || count === 0 || isMasked,
    target,
  });
}

/** The intervals of one family (the list itself when all are), or null when there is none. */
function ofFamily(all: IpInterval[], family: Parsed['family']): IpInterval[] | null {
  let n = 0;
  for (let i = 0; i < all.length; i++) if ((all[i] as IpInterval).family === family) n++;
  if (n === 0) return null;
  return n === all.length ? all : all.filter((i) => i.family === family);
}

function portsOf(ports: readonly (number | string)[]): PortRange[] {
  return mergePorts(
    ports.map((p) => {
      const r = parsePort(p);
      if ('error' in r) throw new MwanError({ code: 'INTERNAL', summary: `unvalidated port ${p}` });
      return r;
    }),
  );
}

function mergePorts(ranges: PortRange[]): PortRange[] {
  const sorted = [...ranges].sort((a, b) => a.first - b.first);
  const merged: PortRange[] = [];
  for (const r of sorted) {
    const last = merged[merged.length - 1];
    if (last && r.first <= last.last + 1) last.last = Math.max(last.last, r.last);
    else merged.push({ ...r });
  }
  return merged;
}

/** Two rules of one shape overlap when some packet matches both: every field's values intersect. */
function overlaps(a: Parsed, b: Parsed): boolean {
  return FIELDS.every((f) => {
    const va = a.fields[f];
    const vb = b.fields[f];
    if (va === undefined || vb === undefined) return true;
    if (f === 'srcIface') return (va as string[]).some((d) => (vb as string[]).includes(d));
    return (va as { first: number | bigint; last: number | bigint }[]).some((i) =>
      (vb as { first: number | bigint; last: number | bigint }[]).some((j) => i.first <= j.last && j.first <= i.last),
    );
  });
}

function protoOf(p: Parsed): 'tcp' | 'udp' | null {
  return p.proto === 'tcp' || p.proto === 'udp' ? p.proto : null;
}

function keyOf(p: Parsed, f: Field): x.Expr {
  switch (f) {
    case 'srcIface':
      return x.meta('iifname');
    case 'srcIp':
      return x.payload(p.family === 'ipv6' ? 'ip6' : 'ip', 'saddr');
    case 'destIp':
      return x.payload(p.family === 'ipv6' ? 'ip6' : 'ip', 'daddr');
    case 'srcPort':
      return x.payload(protoOf(p) as string, 'sport');
    case 'destPort':
      return x.payload(protoOf(p) as string, 'dport');
  }
}

/** The elements of one field of one rule, as nft set elements. */
function elementsOf(p: Parsed, f: Field): x.Expr[] {
  const v = p.fields[f] as IpInterval[] | PortRange[] | string[];
  if (f === 'srcIface') return v;
  if (f === 'srcIp' || f === 'destIp') {
    return normaliseIpIntervals(p.family as IpFamilyName, v as IpInterval[]).map(x.addrElement);
  }
  return (v as PortRange[]).map(x.portElement);
}

/**
 * `tcp dport` already implies `meta l4proto tcp`, and an address match its family: emitting both would not
 * read back identically. ICMPv6 is emitted as its number (nft lists the name "ipv6-icmp").
 */
function protoMatch(p: Parsed): x.Stmt[] {
  const out: x.Stmt[] = [];
  const hasAddresses = p.fields.srcIp !== undefined || p.fields.destIp !== undefined || p.rule.set !== undefined || Object.keys(p.masked).length > 0;
  // nft lists `meta nfproto ipv4 meta l4proto icmp` (and ipv6 with 58) without the nfproto, by name or number.
  const impliedByProto = (p.family === 'ipv4' && (p.proto === 'icmp' || p.proto === 1)) || (p.family === 'ipv6' && (p.proto === 'icmpv6' || p.proto === 58));
  if (p.family !== 'any' && !hasAddresses && !impliedByProto) out.push(x.match('==', x.meta('nfproto'), p.family));
  const hasPorts = p.fields.srcPort !== undefined || p.fields.destPort !== undefined;
  if (p.proto !== 'all' && !hasPorts) out.push(x.match('==', x.meta('l4proto'), p.proto === 'icmpv6' ? 58 : p.proto));
  return out;
}

function single(p: Parsed): ClassifyRule {
  const expr: x.Stmt[] = [...protoMatch(p)];
  for (const f of FIELDS) {
    if (p.fields[f] !== undefined) expr.push(x.match('==', keyOf(p, f), x.oneOrSet(elementsOf(p, f))));
    const m = f === 'srcIp' || f === 'destIp' ? p.masked[f] : undefined;
    if (m !== undefined) expr.push(x.match('==', x.and(keyOf(p, f), formatIpv4(m.mask)), formatIpv4(m.addr)));
  }
  if (p.rule.set !== undefined) expr.push(x.match('==', x.payload(p.family === 'ipv6' ? 'ip6' : 'ip', 'daddr'), `@${p.rule.set}`));
  if (p.rule.log) expr.push({ log: { prefix: `nft-mwan ${p.rule.name}: ` } });
  expr.push(x.goTo(p.target));
  return { expr, comment: `rule ${p.rule.name}` };
}

function mapped(group: Parsed[]): ClassifyRule {
  const first = group[0] as Parsed;
  const only = first.key;
  const present = FIELDS.filter((_, i) => (first.present & (1 << i)) !== 0);
  const key = only !== null ? keyOf(first, only) : { concat: present.map((f) => keyOf(first, f)) };
  const entries: [x.Expr, x.Stmt][] = [];
  // One verdict per target, shared by its entries (the JSON is the same; a thousand entries name a few chains).
  const verdicts = new Map<string, x.Stmt>();
  for (let i = 0; i < group.length; i++) {
    const p = group[i] as Parsed;
    let verdict = verdicts.get(p.target);
    if (verdict === undefined) verdicts.set(p.target, (verdict = x.goTo(p.target)));
    if (only !== null) {
      const elements = elementsOf(p, only);
      for (let j = 0; j < elements.length; j++) entries.push([elements[j], verdict]);
      continue;
    }
    // Every combination of the rule's values is one element (a rule's own values never overlap each other).
    let combos: x.Expr[][] = [[]];
    for (const f of present) combos = combos.flatMap((c) => elementsOf(p, f).map((e) => [...c, e]));
    for (const c of combos) entries.push([c.length === 1 ? c[0] : { concat: c }, verdict]);
  }
  const names = group.map((p) => p.rule.name);
  const comment = `rules ${names.length > 4 ? `${names.slice(0, 3).join(', ')} ... ${names.at(-1) ?? ''} (${names.length})` : names.join(', ')}`;
  return { expr: [...protoMatch(first), x.vmap(key, entries)], comment: comment.slice(0, 128) };
}
