// User rules -> classify chain statements at flat cost: consecutive rules of the same shape whose matches
// cannot overlap become ONE verdict-map lookup, so first match wins exactly as if evaluated one by one. Pure.
import { MwanError } from '../errors.js';
import type { Rule } from '../generated/config.js';
import { normaliseIntervals, parseIpv4Element, parsePort, type Ipv4Interval, type PortRange } from './net.js';
import * as x from './nft-expr.js';

type Field = 'srcIface' | 'srcIp' | 'destIp' | 'srcPort' | 'destPort';
const FIELDS: readonly Field[] = ['srcIface', 'srcIp', 'destIp', 'srcPort', 'destPort'];

/** One rule, parsed: per present field its values as inclusive numeric intervals (device names as themselves). */
interface Parsed {
  rule: Rule;
  proto: Rule['proto'];
  fields: Partial<Record<Field, Ipv4Interval[] | PortRange[] | string[]>>;
  /** Shape: the rules that can share one map lookup have the same one. */
  shape: string;
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
export function compileRules(rules: readonly Rule[], target: (rule: Rule) => string): ClassifyRule[] {
  const parsed = rules.map((r) => parse(r, target(r)));
  const out: ClassifyRule[] = [];
  let group: Parsed[] = [];
  const flush = () => {
    if (group.length === 1) out.push(single(group[0] as Parsed));
    else if (group.length > 1) out.push(mapped(group));
    group = [];
  };
  for (const p of parsed) {
    const fits = !p.alone && group.length > 0 && group[0]?.shape === p.shape && group.every((g) => !overlaps(g, p));
    if (!fits) flush();
    group.push(p);
    if (p.alone) flush();
  }
  flush();
  return out;
}

function parse(rule: Rule, target: string): Parsed {
  const fields: Parsed['fields'] = {};
  if (rule.srcIface) fields.srcIface = [...new Set(rule.srcIface)].sort();
  for (const f of ['srcIp', 'destIp'] as const) {
    const texts = rule[f];
    if (!texts) continue;
    fields[f] = texts.map((t) => {
      const e = parseIpv4Element(t);
      if ('error' in e) throw new MwanError({ code: 'INTERNAL', summary: `unvalidated address ${t}` });
      return e.interval;
    });
  }
  for (const f of ['srcPort', 'destPort'] as const) {
    const ports = rule[f];
    if (!ports) continue;
    fields[f] = mergePorts(
      ports.map((p) => {
        const r = parsePort(p);
        if ('error' in r) throw new MwanError({ code: 'INTERNAL', summary: `unvalidated port ${p}` });
        return r;
      }),
    );
  }
  const present = FIELDS.filter((f) => fields[f] !== undefined);
  const proto = rule.proto ?? 'all';
  return {
    rule,
    proto,
    fields,
    shape: JSON.stringify([proto, present]),
    alone: rule.set !== undefined || rule.log === true || present.length === 0,
    target,
  };
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
    return (va as { first: number; last: number }[]).some((i) => (vb as { first: number; last: number }[]).some((j) => i.first <= j.last && j.first <= i.last));
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
      return x.payload('ip', 'saddr');
    case 'destIp':
      return x.payload('ip', 'daddr');
    case 'srcPort':
      return x.payload(protoOf(p) as string, 'sport');
    case 'destPort':
      return x.payload(protoOf(p) as string, 'dport');
  }
}

/** The elements of one field of one rule, as nft set elements. */
function elementsOf(p: Parsed, f: Field): x.Expr[] {
  const v = p.fields[f] as Ipv4Interval[] | PortRange[] | string[];
  if (f === 'srcIface') return v as string[];
  if (f === 'srcIp' || f === 'destIp') return normaliseIntervals(v as Ipv4Interval[]).map(x.addrElement);
  return (v as PortRange[]).map(x.portElement);
}

/** `tcp dport` already implies `meta l4proto tcp`; emitting both would not read back identically. */
function protoMatch(p: Parsed): x.Stmt[] {
  const hasPorts = p.fields.srcPort !== undefined || p.fields.destPort !== undefined;
  return p.proto !== 'all' && p.proto !== undefined && !hasPorts ? [x.match('==', x.meta('l4proto'), p.proto)] : [];
}

function single(p: Parsed): ClassifyRule {
  const expr: x.Stmt[] = [...protoMatch(p)];
  for (const f of FIELDS) if (p.fields[f] !== undefined) expr.push(x.match('==', keyOf(p, f), x.oneOrSet(elementsOf(p, f))));
  if (p.rule.set !== undefined) expr.push(x.match('==', x.payload('ip', 'daddr'), `@${p.rule.set}`));
  if (p.rule.log) expr.push({ log: { prefix: `nft-mwan ${p.rule.name}: ` } });
  expr.push(x.goTo(p.target));
  return { expr, comment: `rule ${p.rule.name}` };
}

function mapped(group: Parsed[]): ClassifyRule {
  const first = group[0] as Parsed;
  const present = FIELDS.filter((f) => first.fields[f] !== undefined);
  const key = present.length === 1 ? keyOf(first, present[0] as Field) : { concat: present.map((f) => keyOf(first, f)) };
  const entries: [x.Expr, x.Stmt][] = [];
  for (const p of group) {
    // Every combination of the rule's values is one element (a rule's own values never overlap each other).
    let combos: x.Expr[][] = [[]];
    for (const f of present) combos = combos.flatMap((c) => elementsOf(p, f).map((e) => [...c, e]));
    for (const c of combos) entries.push([c.length === 1 ? (c[0] as x.Expr) : { concat: c }, x.goTo(p.target)]);
  }
  const names = group.map((p) => p.rule.name);
  const comment = `rules ${names.length > 4 ? `${names.slice(0, 3).join(', ')} ... ${names.at(-1)} (${names.length})` : names.join(', ')}`;
  return { expr: [...protoMatch(first), x.vmap(key, entries)], comment: comment.slice(0, 128) };
}
