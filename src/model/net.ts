// IPv4 address, CIDR, range and port parsing, and the interval normalisation nft interval sets need.

export interface Ipv4Interval {
  /** First and last address as unsigned 32-bit integers (inclusive). */
  first: number;
  last: number;
}

/** A parsed address match element: a single address, a prefix or an inclusive range. */
export type Ipv4Element = { kind: 'addr'; addr: string } | { kind: 'prefix'; addr: string; len: number } | { kind: 'range'; from: string; to: string };

export function parseIpv4(text: string): number | undefined {
  return parseIpv4Between(text, 0, text.length);
}

/** The address written in text[start, end), read in place (validate and compile read every address of every rule). */
function parseIpv4Between(text: string, start: number, end: number): number | undefined {
  // By character code, not a regular expression: compile parses every address of every rule.
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i <= end; i++) {
    const c = i < end ? text.charCodeAt(i) : 46; // the end closes the last octet like a '.'
    if (c >= 48 && c <= 57) {
      // Leading zeros are ambiguous (octal in some tools), so refuse them.
      if (digits === 1 && octet === 0) return undefined;
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return undefined;
    } else if (c === 46 && digits > 0 && (i < end ? dots < 3 : dots === 3)) {
      value = value * 256 + octet;
      if (i < end) dots++;
      octet = 0;
      digits = 0;
    } else {
      return undefined;
    }
  }
  return value;
}

export function formatIpv4(value: number): string {
  return `${(value >>> 24) & 255}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

function prefixSize(len: number): number {
  return 2 ** (32 - len);
}

/**
 * Parses "a.b.c.d", "a.b.c.d/len" or "a.b.c.d-e.f.g.h".
 * Returns an error message (what is valid) instead of throwing: config errors are data.
 */
export function parseIpv4Element(text: string): { element: Ipv4Element; interval: Ipv4Interval } | { error: string } {
  const r = parseIpv4Interval(text);
  if ('error' in r) return r;
  const { first, last } = r;
  const len = r.kind === 'prefix' ? r.len : 32;
  const interval = { first, last };
  if (r.kind === 'range' && first !== last) return { element: { kind: 'range', from: formatIpv4(first), to: formatIpv4(last) }, interval };
  if (len === 32) return { element: { kind: 'addr', addr: formatIpv4(first) }, interval };
  return { element: { kind: 'prefix', addr: formatIpv4(first), len }, interval };
}

/** The interval of "a.b.c.d", "a.b.c.d/len" or "a.b.c.d-e.f.g.h", and which of the three it was. */
function parseIpv4Interval(text: string): (Ipv4Interval & ({ kind: 'addr' | 'range' } | { kind: 'prefix'; len: number })) | { error: string } {
  const dash = text.indexOf('-');
  if (dash >= 0) {
    const from = parseIpv4(text.slice(0, dash));
    const to = parseIpv4(text.slice(dash + 1));
    if (from === undefined || to === undefined) return { error: `"${text}" is not an IPv4 range (expected a.b.c.d-e.f.g.h)` };
    if (from > to) return { error: `range "${text}" ends before it starts` };
    return { kind: 'range', first: from, last: to };
  }
  const slash = text.indexOf('/');
  if (slash >= 0) {
    const addr = parseIpv4Between(text, 0, slash);
    const len = prefixLength(text, slash + 1, 2);
    if (addr === undefined || !(len >= 0 && len <= 32)) {
      return { error: `"${text}" is not an IPv4 CIDR (expected a.b.c.d/0-32)` };
    }
    if (addr % prefixSize(len) !== 0) {
      const network = addr - (addr % prefixSize(len));
      return { error: `"${text}" has host bits set (did you mean ${formatIpv4(network)}/${len}?)` };
    }
    return { kind: 'prefix', len, first: addr, last: addr + prefixSize(len) - 1 };
  }
  const addr = parseIpv4(text);
  if (addr === undefined) return { error: `"${text}" is not an IPv4 address, CIDR or range` };
  return { kind: 'addr', first: addr, last: addr };
}

/** The one to `maxDigits` decimal digits from `start` to the end of text as a number, else NaN (as /^\d{1,N}$/ would). */
function prefixLength(text: string, start: number, maxDigits: number): number {
  const n = text.length - start;
  if (n < 1 || n > maxDigits) return NaN;
  let value = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return NaN;
    value = value * 10 + c;
  }
  return value;
}

/**
 * Merges overlapping and adjacent intervals and re-expresses them as the fewest CIDR prefixes.
 * nft 1.0.6 rejects overlapping elements in interval sets, and prefixes read back unchanged.
 */
export function normaliseIntervals(intervals: readonly Ipv4Interval[]): Ipv4Element[] {
  // One interval (most rules' one address): nothing to sort or merge.
  if (intervals.length === 1) return intervalToPrefixes(intervals[0] as Ipv4Interval);
  const sorted = [...intervals].sort((a, b) => a.first - b.first || a.last - b.last);
  const merged: Ipv4Interval[] = [];
  for (const iv of sorted) {
    const last = merged[merged.length - 1];
    if (last && iv.first <= last.last + 1) last.last = Math.max(last.last, iv.last);
    else merged.push({ ...iv });
  }
  const out: Ipv4Element[] = [];
  for (const iv of merged) out.push(...intervalToPrefixes(iv));
  return out;
}

function intervalToPrefixes({ first, last }: Ipv4Interval): Ipv4Element[] {
  const out: Ipv4Element[] = [];
  let cursor = first;
  while (cursor <= last) {
    let len = 32;
    // Grow the block while it stays aligned and inside the interval.
    while (len > 0) {
      const size = prefixSize(len - 1);
      if (cursor % size !== 0 || cursor + size - 1 > last) break;
      len--;
    }
    out.push(len === 32 ? { kind: 'addr', addr: formatIpv4(cursor) } : { kind: 'prefix', addr: formatIpv4(cursor), len });
    cursor += prefixSize(len);
  }
  return out;
}

export interface PortRange {
  first: number;
  last: number;
}

export function parsePort(value: number | string): PortRange | { error: string } {
  const text = String(value);
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) return { error: `"${text}" is not a port or port range (expected 0-65535 or "lo-hi")` };
  const first = Number(m[1]);
  const last = m[2] === undefined ? first : Number(m[2]);
  if (first > 65535 || last > 65535) return { error: `port "${text}" is out of range (0-65535)` };
  if (first > last) return { error: `port range "${text}" ends before it starts` };
  return { first, last };
}

// ---- both families ----------------------------------------------------------------------------------------

export type IpFamilyName = 'ipv4' | 'ipv6';

/** An inclusive interval of one family's addresses, as big integers (IPv6 needs 128 bits). */
export interface IpInterval {
  family: IpFamilyName;
  first: bigint;
  last: bigint;
}

const BITS: Record<IpFamilyName, number> = { ipv4: 32, ipv6: 128 };

export function parseIpv6(text: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.includes(':::')) return undefined;
  let head = text;
  let tailV4: number[] = [];
  // An embedded IPv4 tail ("::ffff:192.0.2.1") is two groups.
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const v4 = parseIpv4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tailV4 = [Math.floor(v4 / 65536), v4 % 65536];
    const prefix = text.slice(0, lastColon + 1);
    head = prefix.endsWith('::') ? prefix : prefix.slice(0, -1);
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const part = (s: string) => (s === '' ? [] : s.split(':'));
  const left = part(halves[0] as string);
  const right = halves.length === 2 ? part(halves[1] as string) : [];
  const groups = 8 - tailV4.length;
  if (halves.length === 1 && left.length !== groups) return undefined;
  if (halves.length === 2 && left.length + right.length > groups - 1) return undefined;
  const all = halves.length === 2 ? [...left, ...Array<string>(groups - left.length - right.length).fill('0'), ...right] : left;
  let value = 0n;
  for (const g of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    value = (value << 16n) | BigInt(parseInt(g, 16));
  }
  for (const g of tailV4) value = (value << 16n) | BigInt(g);
  return value;
}

/**
 * The text nft lists (glibc inet_ntop): RFC 5952, lower case, the first longest run of 2+ zero groups as "::",
 * except that IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) addresses end in a dotted quad.
 */
export function formatIpv6(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len && j - i >= 2) best = { at: i, len: j - i };
    i = j;
  }
  if (best.at === 0 && (best.len === 6 || (best.len === 5 && groups[5] === 0xffff))) {
    return `::${best.len === 5 ? 'ffff:' : ''}${formatIpv4(Number(value & 0xffffffffn))}`;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`;
}

export function parseIp(text: string): { family: IpFamilyName; value: bigint } | undefined {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { family: 'ipv4', value: BigInt(v4) };
  const v6 = text.includes(':') ? parseIpv6(text) : undefined;
  return v6 === undefined ? undefined : { family: 'ipv6', value: v6 };
}

export function formatIp(family: IpFamilyName, value: bigint): string {
  return family === 'ipv4' ? formatIpv4(Number(value)) : formatIpv6(value);
}

/**
 * Results by text, shared by every caller (read-only: none changes them): validation and compile read the same
 * addresses in one apply (cold, where each parse costs), and a daemon compiles them again on every state change.
 * Bounded: cleared when full (a config holds far fewer addresses).
 */
export type IpElement = { readonly interval: Readonly<IpInterval> } | { readonly error: string };
const elements = new Map<string, IpElement>();
const ELEMENTS_KEPT = 16_384;

/** An address, CIDR or range of either family; errors say what is valid, as parseIpv4Element does. */
export function parseIpElement(text: string): IpElement {
  let r = elements.get(text);
  if (r === undefined) {
    r = readIpElement(text);
    if (elements.size >= ELEMENTS_KEPT) elements.clear();
    elements.set(text, r);
  }
  return r;
}

function readIpElement(text: string): { interval: IpInterval } | { error: string } {
  if (!text.includes(':')) {
    const v4 = parseIpv4Interval(text);
    if ('error' in v4) return v4;
    return { interval: { family: 'ipv4', first: BigInt(v4.first), last: BigInt(v4.last) } };
  }
  const dash = text.indexOf('-');
  if (dash >= 0) {
    const from = parseIpv6(text.slice(0, dash));
    const to = parseIpv6(text.slice(dash + 1));
    if (from === undefined || to === undefined) return { error: `"${text}" is not an IPv6 range (expected a::1-a::9)` };
    if (from > to) return { error: `range "${text}" ends before it starts` };
    return { interval: { family: 'ipv6', first: from, last: to } };
  }
  const slash = text.indexOf('/');
  const addr = parseIpv6(slash >= 0 ? text.slice(0, slash) : text);
  if (slash < 0) {
    if (addr === undefined) return { error: `"${text}" is not an IPv6 address, CIDR or range` };
    return { interval: { family: 'ipv6', first: addr, last: addr } };
  }
  const len = prefixLength(text, slash + 1, 3);
  if (addr === undefined || !(len >= 0 && len <= 128)) return { error: `"${text}" is not an IPv6 CIDR (expected a:b::/0-128)` };
  const size = 1n << BigInt(128 - len);
  if (addr % size !== 0n) return { error: `"${text}" has host bits set (did you mean ${formatIpv6(addr - (addr % size))}/${len}?)` };
  return { interval: { family: 'ipv6', first: addr, last: addr + size - 1n } };
}

/** As normaliseIntervals, for one family of big-integer intervals: merged, then the fewest prefixes. */
export function normaliseIpIntervals(family: IpFamilyName, intervals: readonly IpInterval[]): Ipv4Element[] {
  // IPv4 fits a double exactly: the number path, without big-integer arithmetic per address.
  if (family === 'ipv4') return normaliseIntervals(intervals.filter((i) => i.family === 'ipv4').map((i) => ({ first: Number(i.first), last: Number(i.last) })));
  const bits = BITS[family];
  const sorted = intervals.filter((i) => i.family === family).sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const merged: { first: bigint; last: bigint }[] = [];
  for (const iv of sorted) {
    const last = merged[merged.length - 1];
    if (last && iv.first <= last.last + 1n) last.last = iv.last > last.last ? iv.last : last.last;
    else merged.push({ first: iv.first, last: iv.last });
  }
  const out: Ipv4Element[] = [];
  for (const { first, last } of merged) {
    let cursor = first;
    while (cursor <= last) {
      let len = bits;
      while (len > 0) {
        const size = 1n << BigInt(bits - len + 1);
        if (cursor % size !== 0n || cursor + size - 1n > last) break;
        len--;
      }
      const addr = formatIp(family, cursor);
      out.push(len === bits ? { kind: 'addr', addr } : { kind: 'prefix', addr, len });
      cursor += 1n << BigInt(bits - len);
    }
  }
  return out;
}

/** What kind of address no router can use as a next hop or send from (0/8, loopback, multicast, 240/4, broadcast), or null. */
export function reservedKind4(address: string): string | null {
  const value = parseIpv4(address) ?? 0;
  const first = Math.floor(value / 2 ** 24);
  if (first === 0) return 'in 0.0.0.0/8 ("this network")';
  if (first === 127) return 'a loopback address';
  if (first >= 224 && first <= 239) return 'a multicast address';
  if (first >= 240) return value === 0xffffffff ? 'the broadcast address' : 'in the reserved 240.0.0.0/4';
  return null;
}

/** The same for IPv6: the unspecified address ::, loopback ::1 and multicast ff00::/8. */
export function reservedKind6(address: string): string | null {
  const value = parseIpv6(address) ?? 0n;
  if (value === 0n) return 'the unspecified address ::';
  if (value === 1n) return 'the loopback address ::1';
  if (value >> 120n === 0xffn) return 'a multicast address';
  return null;
}
