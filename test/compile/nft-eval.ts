// A tiny interpreter for the libnftables JSON that compile emits in the classify chain, so tests can run
// packets through a batch the way the kernel would. Deliberately strict: any statement or expression form it
// does not know throws, so a new emission form cannot be silently misjudged.

/** One packet of a NEW connection, as seen in prerouting: IPv4 or IPv6 (by its addresses, both of one family). */
export interface Packet {
  /** Input device name (meta iifname). */
  iifname: string;
  /** IP protocol number (meta l4proto): 1 icmp, 6 tcp, 17 udp, 58 icmpv6, ... */
  l4proto: number;
  saddr: string;
  daddr: string;
  /** Present for tcp and udp packets. */
  sport?: number;
  dport?: number;
}

export interface EvalOptions {
  /** Elements of named sets, by name; added to the elements the batch itself adds (`add element`). */
  sets?: Readonly<Record<string, readonly unknown[]>>;
  /** `fib daddr type` of a destination; "unicast" when absent. */
  fibType?: (daddr: string) => string;
}

export type Verdict =
  | { kind: 'goto' | 'jump'; target: string }
  | { kind: 'accept' | 'drop' | 'return' }
  /** Fell off the end of the chain. */
  | { kind: 'none' };

export interface EvalResult {
  verdict: Verdict;
  /** Index (0-based) of the classify rule that decided, or null. */
  ruleIndex: number | null;
  /** That rule's comment, if any. */
  comment: string | null;
}

const PROTO_NUMBERS: Readonly<Record<string, number>> = { icmp: 1, igmp: 2, tcp: 6, udp: 17, gre: 47, esp: 50, ah: 51, icmpv6: 58, sctp: 132 };

type Kind = 'ipv4' | 'ipv6' | 'port' | 'proto' | 'ifname' | 'fibtype' | 'nfproto';
/** A key evaluated on a packet: its value and how to read set elements against it; null = key absent (no match). */
type KeyValue = { kind: Kind; value: number | bigint | string } | null;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(what: string, v: unknown): never {
  throw new Error(`nft-eval: unsupported ${what}: ${JSON.stringify(v)}`);
}

const parsedAddresses = new Map<string, number>();

export function ipv4ToNumber(text: string): number {
  const cached = parsedAddresses.get(text);
  if (cached !== undefined) return cached;
  const value = parseIpv4Text(text);
  if (parsedAddresses.size > 100_000) parsedAddresses.clear();
  parsedAddresses.set(text, value);
  return value;
}

function parseIpv4Text(text: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) throw new Error(`nft-eval: not an IPv4 address: ${text}`);
  return m.slice(1, 5).reduce((acc, part) => {
    const o = Number(part);
    if (o > 255) throw new Error(`nft-eval: not an IPv4 address: ${text}`);
    return acc * 256 + o;
  }, 0);
}

/** An IPv6 address as a 128-bit integer: full, "::"-compressed, or with an IPv4 tail. Written apart from src/. */
const parsed6 = new Map<string, bigint>();

export function ipv6ToBigInt(text: string): bigint {
  const cached = parsed6.get(text);
  if (cached !== undefined) return cached;
  const value = parseIpv6Text(text);
  if (parsed6.size > 100_000) parsed6.clear();
  parsed6.set(text, value);
  return value;
}

function parseIpv6Text(text: string): bigint {
  const bad = () => new Error(`nft-eval: not an IPv6 address: ${text}`);
  let body = text.toLowerCase();
  const tail: string[] = [];
  const v4 = /:(\d+\.\d+\.\d+\.\d+)$/.exec(body);
  if (v4) {
    const n = parseIpv4Text(v4[1] as string);
    tail.push(Math.floor(n / 65536).toString(16), (n % 65536).toString(16));
    body = body.slice(0, -(v4[1] as string).length);
    if (!body.endsWith('::')) body = body.slice(0, -1);
  }
  const halves = body.split('::');
  if (halves.length > 2) throw bad();
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const left = groups(halves[0] as string);
  const right = halves.length === 2 ? groups(halves[1] as string) : [];
  const missing = 8 - tail.length - left.length - right.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) throw bad();
  const all = [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...right, ...tail];
  return all.reduce((acc, g) => {
    if (!/^[0-9a-f]{1,4}$/.test(g)) throw bad();
    return (acc << 16n) | BigInt(parseInt(g, 16));
  }, 0n);
}

/** The family of a packet, from its addresses (which must agree). */
export function packetFamily(p: Packet): 'ipv4' | 'ipv6' {
  const f = (a: string) => (a.includes(':') ? 'ipv6' : 'ipv4');
  if (f(p.saddr) !== f(p.daddr)) throw new Error(`nft-eval: packet mixes families: ${JSON.stringify(p)}`);
  return f(p.saddr);
}

function onlyKey(o: Obj, what: string): [string, unknown] {
  const entries = Object.entries(o);
  if (entries.length !== 1) fail(what, o);
  return entries[0] as [string, unknown];
}

/** Evaluates a key expression (the left of a match, the key of a vmap, or one part of a concat). */
function evalKey(expr: unknown, p: Packet, o: EvalOptions): KeyValue {
  if (!isObj(expr)) fail('key', expr);
  const [k, body] = onlyKey(expr, 'key');
  if (k === 'meta' && isObj(body)) {
    if (body.key === 'l4proto') return { kind: 'proto', value: p.l4proto };
    if (body.key === 'iifname') return { kind: 'ifname', value: p.iifname };
    if (body.key === 'nfproto') return { kind: 'nfproto', value: packetFamily(p) };
    fail('meta key', expr);
  }
  if (k === 'payload' && isObj(body)) {
    const { protocol, field } = body;
    // nft adds the dependency `meta nfproto ipv4` (ipv6): an ip header match never matches an IPv6 packet.
    if (protocol === 'ip' && (field === 'saddr' || field === 'daddr'))
      return packetFamily(p) === 'ipv4' ? { kind: 'ipv4', value: ipv4ToNumber(p[field]) } : null;
    if (protocol === 'ip6' && (field === 'saddr' || field === 'daddr'))
      return packetFamily(p) === 'ipv6' ? { kind: 'ipv6', value: ipv6ToBigInt(p[field]) } : null;
    if ((protocol === 'tcp' || protocol === 'udp') && (field === 'sport' || field === 'dport')) {
      // nft adds the dependency `meta l4proto <protocol>`: a tcp header match never matches a udp packet.
      if (p.l4proto !== PROTO_NUMBERS[protocol]) return null;
      const port = p[field];
      if (port === undefined) throw new Error(`nft-eval: ${protocol} packet without ${field}`);
      return { kind: 'port', value: port };
    }
    fail('payload', expr);
  }
  if (k === 'fib' && isObj(body)) {
    const flags = body.flags;
    if (body.result === 'type' && Array.isArray(flags) && flags.length === 1 && flags[0] === 'daddr') {
      return { kind: 'fibtype', value: (o.fibType ?? (() => 'unicast'))(p.daddr) };
    }
    fail('fib', expr);
  }
  return fail('key', expr);
}

/** A scalar of the key's type (IPv4 addresses as numbers, IPv6 as big integers, protocol names as numbers). */
function scalar(kind: Kind, v: unknown): number | bigint | string {
  switch (kind) {
    case 'ipv4':
      if (typeof v === 'string' && !v.includes(':')) return ipv4ToNumber(v);
      break;
    case 'ipv6':
      if (typeof v === 'string' && v.includes(':')) return ipv6ToBigInt(v);
      break;
    case 'port':
      if (typeof v === 'number' && Number.isInteger(v)) return v;
      break;
    case 'proto':
      if (typeof v === 'number') return v;
      if (typeof v === 'string' && PROTO_NUMBERS[v] !== undefined) return PROTO_NUMBERS[v] as number;
      // nft lists protocol 58 by its /etc/protocols name.
      if (v === 'ipv6-icmp') return 58;
      break;
    case 'ifname':
    case 'fibtype':
    case 'nfproto':
      if (typeof v === 'string') return v;
      break;
  }
  return fail(`${kind} value`, v);
}

/** Does a value of the key's type match one set element (value, prefix or range)? */
function elementMatches(kind: Kind, elem: unknown, value: number | bigint | string): boolean {
  if (isObj(elem)) {
    if ('elem' in elem && isObj(elem.elem) && 'val' in elem.elem) return elementMatches(kind, elem.elem.val, value);
    if ('prefix' in elem && isObj(elem.prefix) && (kind === 'ipv4' || kind === 'ipv6')) {
      const [lo, hi] = prefixBounds(kind, elem);
      return (value as number | bigint) >= lo && (value as number | bigint) <= hi;
    }
    if ('range' in elem && Array.isArray(elem.range) && elem.range.length === 2 && (kind === 'ipv4' || kind === 'ipv6' || kind === 'port')) {
      const lo = scalar(kind, elem.range[0]);
      const hi = scalar(kind, elem.range[1]);
      if (lo > hi) fail('reversed range', elem);
      return value >= lo && value <= hi;
    }
    return fail('set element', elem);
  }
  if (kind === 'ifname' && typeof elem === 'string' && elem.endsWith('*') && !elem.endsWith('\\*')) {
    return (value as string).startsWith(elem.slice(0, -1));
  }
  return scalar(kind, elem) === value;
}

/** First and last address of a prefix element; a prefix with host bits set is refused (nft would mask them). */
function prefixBounds(kind: 'ipv4' | 'ipv6', elem: Obj): [number | bigint, number | bigint] {
  const { addr, len } = elem.prefix as Obj;
  const bits = kind === 'ipv4' ? 32 : 128;
  if (typeof len !== 'number' || !Number.isInteger(len) || len < 0 || len > bits) fail('prefix', elem);
  if (kind === 'ipv4') {
    const base = scalar('ipv4', addr) as number;
    const size = 2 ** (32 - len);
    if (base % size !== 0) fail('prefix with host bits', elem);
    return [base, base + size - 1];
  }
  const base = scalar('ipv6', addr) as bigint;
  const size = 1n << BigInt(128 - len);
  if (base % size !== 0n) fail('prefix with host bits', elem);
  return [base, base + size - 1n];
}

/** Named sets: the batch's own `add element` commands plus the caller's. */
function namedSets(batch: unknown, o: EvalOptions): Map<string, unknown[]> {
  const sets = new Map<string, unknown[]>();
  for (const cmd of commandsOf(batch)) {
    const add = isObj(cmd) && isObj(cmd.add) ? cmd.add : null;
    // A declared set starts empty (compile adds and flushes bypass_v4 before filling it).
    const declared = add && (isObj(add.set) ? add.set : isObj(add.map) ? add.map : null);
    if (declared && typeof declared.name === 'string' && !sets.has(declared.name)) sets.set(declared.name, []);
    const el = add && isObj(add.element) ? add.element : null;
    if (el && typeof el.name === 'string' && Array.isArray(el.elem)) sets.set(el.name, [...(sets.get(el.name) ?? []), ...el.elem]);
  }
  for (const [name, elems] of Object.entries(o.sets ?? {})) sets.set(name, [...(sets.get(name) ?? []), ...elems]);
  return sets;
}

function commandsOf(batch: unknown): unknown[] {
  if (isObj(batch) && Array.isArray(batch.nftables)) return batch.nftables;
  if (Array.isArray(batch)) return batch;
  return fail('batch', batch);
}

/** The right-hand side of a match as a list of set elements (a single value is a one-element set). */
function rightElements(right: unknown, sets: Map<string, unknown[]>): unknown[] {
  if (typeof right === 'string' && right.startsWith('@')) {
    const s = sets.get(right.slice(1));
    if (s === undefined) throw new Error(`nft-eval: unknown named set ${right}`);
    return s;
  }
  if (isObj(right) && 'set' in right) {
    if (!Array.isArray(right.set)) fail('set', right);
    return right.set;
  }
  return [right];
}

type StmtResult = 'next' | 'stop' | Verdict;

function verdictOf(stmt: Obj): Verdict | null {
  const [k, body] = onlyKey(stmt, 'statement');
  if ((k === 'goto' || k === 'jump') && isObj(body) && typeof body.target === 'string') return { kind: k, target: body.target };
  if ((k === 'accept' || k === 'drop' || k === 'return') && body === null) return { kind: k };
  return null;
}

function evalStmt(stmt: unknown, p: Packet, o: EvalOptions, sets: Map<string, unknown[]>): StmtResult {
  if (!isObj(stmt)) fail('statement', stmt);
  const verdict = verdictOf(stmt);
  if (verdict) return verdict;
  const [k, body] = onlyKey(stmt, 'statement');
  if (k === 'log' || k === 'counter') return 'next';
  if (k === 'match' && isObj(body)) {
    const { op, left, right } = body;
    if (op !== '==' && op !== '!=' && op !== 'in') fail('match op', stmt);
    const key = evalKey(left, p, o);
    if (key === null) return 'stop';
    const elems = rightElements(right, sets);
    const hits = elems.filter((e) => elementMatches(key.kind, e, key.value)).length;
    // nft refuses overlapping elements in an anonymous interval set: catch an emission that has them.
    if (hits > 1 && isObj(right) && 'set' in right) throw new Error(`nft-eval: overlapping set elements match ${JSON.stringify(p)}: ${JSON.stringify(right)}`);
    const hit = hits > 0;
    return (op === '!=' ? !hit : hit) ? 'next' : 'stop';
  }
  if (k === 'vmap' && isObj(body)) {
    const { key, data } = body;
    const parts = isObj(key) && 'concat' in key ? key.concat : [key];
    if (!Array.isArray(parts) || parts.length === 0) fail('vmap key', key);
    const values = parts.map((e) => evalKey(e, p, o));
    // A missing header (a tcp port of a udp packet) fails the dependency: the lookup does not happen.
    if (values.some((v) => v === null)) return 'stop';
    const entries = isObj(data) && Array.isArray(data.set) ? data.set : fail('vmap data', data);
    const found: Verdict[] = [];
    for (const entry of entries) {
      if (!Array.isArray(entry) || entry.length !== 2 || !isObj(entry[1])) fail('vmap entry', entry);
      const [elem, v] = entry as [unknown, Obj];
      let comps: unknown[] = [elem];
      if (parts.length > 1) {
        if (!isObj(elem) || !Array.isArray(elem.concat) || elem.concat.length !== parts.length) fail('concat element', elem);
        comps = elem.concat;
      }
      const hit = comps.every((c, i) => {
        const kv = values[i] as NonNullable<KeyValue>;
        return elementMatches(kv.kind, c, kv.value);
      });
      if (hit) found.push(verdictOf(v) ?? fail('vmap verdict', v));
    }
    // The kernel rejects overlapping elements; an evaluator that silently picked one would hide that.
    if (found.length > 1) throw new Error(`nft-eval: ${found.length} overlapping vmap elements match ${JSON.stringify(p)}: ${JSON.stringify(body)}`);
    return found[0] ?? 'stop';
  }
  return fail('statement', stmt);
}

export interface ChainRule {
  expr: unknown[];
  comment: string | null;
}

/** The rules of one chain, in order, from a batch (`add rule` commands). */
export function chainRules(batch: unknown, chain: string): ChainRule[] {
  const out: ChainRule[] = [];
  for (const cmd of commandsOf(batch)) {
    const rule = isObj(cmd) && isObj(cmd.add) && isObj(cmd.add.rule) ? cmd.add.rule : null;
    if (rule && rule.chain === chain) {
      if (!Array.isArray(rule.expr)) fail('rule', rule);
      out.push({ expr: rule.expr, comment: typeof rule.comment === 'string' ? rule.comment : null });
    }
  }
  return out;
}

// A batch is read once, not once per packet (the property test runs thousands of packets through each).
const readBatches = new WeakMap<object, { sets: Map<string, unknown[]>; classify: ChainRule[] }>();

/** Runs a packet through chain "classify" (all of it, including the fixed local/bypass rules). */
export function evalClassifyDetailed(batch: unknown, packet: Packet, options: EvalOptions = {}): EvalResult {
  const cacheable = options.sets === undefined && typeof batch === 'object' && batch !== null;
  let read = cacheable ? readBatches.get(batch) : undefined;
  if (read === undefined) {
    read = { sets: namedSets(batch, options), classify: chainRules(batch, 'classify') };
    if (cacheable) readBatches.set(batch, read);
  }
  const { sets, classify: rules } = read;
  for (const [i, rule] of rules.entries()) {
    for (const stmt of rule.expr) {
      const r = evalStmt(stmt, packet, options, sets);
      if (r === 'next') continue;
      if (r === 'stop') break;
      return { verdict: r, ruleIndex: i, comment: rule.comment };
    }
  }
  return { verdict: { kind: 'none' }, ruleIndex: null, comment: null };
}

/**
 * The chain the classify chain sends a packet to (goto/jump target), "accept"/"drop" for those verdicts,
 * or null when no rule decides (the packet leaves classify unmarked).
 */
export function evalClassify(batch: unknown, packet: Packet, options: EvalOptions = {}): string | null {
  const { verdict } = evalClassifyDetailed(batch, packet, options);
  switch (verdict.kind) {
    case 'goto':
    case 'jump':
      return verdict.target;
    case 'accept':
    case 'drop':
      return verdict.kind;
    default:
      return null;
  }
}

type Interval = [number | bigint | string, number | bigint | string];

function keyKind(expr: unknown): Kind {
  for (const [saddr, daddr] of [
    ['0.0.0.0', '0.0.0.0'],
    ['::', '::'],
  ]) {
    const probe: Packet = { iifname: 'x', l4proto: 6, saddr: saddr as string, daddr: daddr as string, sport: 0, dport: 0 };
    const kv = evalKey(expr, probe, {});
    if (kv !== null) return kv.kind;
  }
  return 'port';
}

/** An element as an inclusive interval of its key's values (names and protocols as single values). */
function intervalOf(kind: Kind, elem: unknown): Interval {
  if (isObj(elem) && 'prefix' in elem && isObj(elem.prefix) && (kind === 'ipv4' || kind === 'ipv6')) return prefixBounds(kind, elem);
  if (isObj(elem) && 'range' in elem && Array.isArray(elem.range) && (kind === 'ipv4' || kind === 'ipv6' || kind === 'port')) {
    return [scalar(kind, elem.range[0]), scalar(kind, elem.range[1])];
  }
  const v = scalar(kind, elem);
  return [v, v];
}

function intersects(a: Interval, b: Interval): boolean {
  const [a0, a1] = a;
  const [b0, b1] = b;
  const ordered = (v: unknown) => typeof v === 'number' || typeof v === 'bigint';
  if (ordered(a0) && ordered(a1) && ordered(b0) && ordered(b1)) return a0 <= b1 && b0 <= a1;
  return a0 === b0;
}

/**
 * Elements of anonymous sets and verdict maps in a chain that overlap (nft refuses such a set), whether or not
 * a packet happens to hit them: one description per overlapping pair.
 */
export function overlappingElements(batch: unknown, chain: string): string[] {
  const out: string[] = [];
  const check = (where: string, kinds: Kind[], elems: unknown[]) => {
    const ivs = elems.map((e) => {
      const comps = kinds.length > 1 && isObj(e) && Array.isArray(e.concat) ? e.concat : [e];
      if (comps.length !== kinds.length) fail('concat element', e);
      return comps.map((c, i) => intervalOf(kinds[i] as Kind, c));
    });
    for (let i = 0; i < ivs.length; i++) {
      for (let j = i + 1; j < ivs.length; j++) {
        const a = ivs[i] as Interval[];
        const b = ivs[j] as Interval[];
        if (a.every((c, k) => intersects(c, b[k] as Interval))) out.push(`${where}: ${JSON.stringify(elems[i])} overlaps ${JSON.stringify(elems[j])}`);
      }
    }
  };
  for (const [n, rule] of chainRules(batch, chain).entries()) {
    for (const stmt of rule.expr) {
      if (!isObj(stmt)) continue;
      const where = `${chain} rule ${n} (${rule.comment ?? 'no comment'})`;
      if (isObj(stmt.match) && isObj(stmt.match.right) && Array.isArray(stmt.match.right.set)) {
        check(where, [keyKind(stmt.match.left)], stmt.match.right.set);
      }
      if (isObj(stmt.vmap) && isObj(stmt.vmap.data) && Array.isArray(stmt.vmap.data.set)) {
        const key = stmt.vmap.key;
        const parts = isObj(key) && Array.isArray(key.concat) ? key.concat : [key];
        check(
          where,
          parts.map(keyKind),
          stmt.vmap.data.set.map((entry) => (Array.isArray(entry) ? entry[0] : fail('vmap entry', entry))),
        );
      }
    }
  }
  return out;
}
