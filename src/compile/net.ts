// IPv4 address, CIDR, range and port parsing, and the interval normalisation nft interval sets need.

export interface Ipv4Interval {
  /** First and last address as unsigned 32-bit integers (inclusive). */
  first: number;
  last: number;
}

/** A parsed address match element: a single address, a prefix or an inclusive range. */
export type Ipv4Element =
  | { kind: 'addr'; addr: string }
  | { kind: 'prefix'; addr: string; len: number }
  | { kind: 'range'; from: string; to: string };

export function parseIpv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i] as string;
    // Leading zeros are ambiguous (octal in some tools), so refuse them.
    if (part.length > 1 && part.startsWith('0')) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

function prefixSize(len: number): number {
  return 2 ** (32 - len);
}

/**
 * Parses "a.b.c.d", "a.b.c.d/len" or "a.b.c.d-e.f.g.h".
 * Returns an error message (what is valid) instead of throwing: config errors are data.
 */
export function parseIpv4Element(text: string): { element: Ipv4Element; interval: Ipv4Interval } | { error: string } {
  const dash = text.indexOf('-');
  if (dash >= 0) {
    const from = parseIpv4(text.slice(0, dash));
    const to = parseIpv4(text.slice(dash + 1));
    if (from === undefined || to === undefined) return { error: `"${text}" is not an IPv4 range (expected a.b.c.d-e.f.g.h)` };
    if (from > to) return { error: `range "${text}" ends before it starts` };
    if (from === to) return { element: { kind: 'addr', addr: formatIpv4(from) }, interval: { first: from, last: to } };
    return {
      element: { kind: 'range', from: formatIpv4(from), to: formatIpv4(to) },
      interval: { first: from, last: to },
    };
  }
  const slash = text.indexOf('/');
  if (slash >= 0) {
    const addr = parseIpv4(text.slice(0, slash));
    const lenText = text.slice(slash + 1);
    const len = /^\d{1,2}$/.test(lenText) ? Number(lenText) : NaN;
    if (addr === undefined || !(len >= 0 && len <= 32)) {
      return { error: `"${text}" is not an IPv4 CIDR (expected a.b.c.d/0-32)` };
    }
    if (addr % prefixSize(len) !== 0) {
      const network = addr - (addr % prefixSize(len));
      return { error: `"${text}" has host bits set (did you mean ${formatIpv4(network)}/${len}?)` };
    }
    const interval = { first: addr, last: addr + prefixSize(len) - 1 };
    if (len === 32) return { element: { kind: 'addr', addr: formatIpv4(addr) }, interval };
    return { element: { kind: 'prefix', addr: formatIpv4(addr), len }, interval };
  }
  const addr = parseIpv4(text);
  if (addr === undefined) return { error: `"${text}" is not an IPv4 address, CIDR or range` };
  return { element: { kind: 'addr', addr: formatIpv4(addr) }, interval: { first: addr, last: addr } };
}

/**
 * Merges overlapping and adjacent intervals and re-expresses them as the fewest CIDR prefixes.
 * nft 1.0.6 rejects overlapping elements in interval sets, and prefixes read back unchanged.
 */
export function normaliseIntervals(intervals: readonly Ipv4Interval[]): Ipv4Element[] {
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
