// Route protocol names as iproute2 prints them (`proto dhcp`), mapped back to their numbers.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/*
 * iproute2 prints a protocol by name when it has one, in `ip -j rule` as well. `-N` would print numbers,
 * but it also turns scopes, tables and address scopes numeric in the one `ip -batch` discovery runs per
 * family; mapping the names back reads the same files iproute2 reads, in the same order (a later file wins).
 */

/** iproute2 6.1's built-in names (lib/rt_names.c), used when no file names the number. */
const BUILT_IN: Record<string, number> = {
  unspec: 0,
  redirect: 1,
  kernel: 2,
  boot: 3,
  static: 4,
  gated: 8,
  ra: 9,
  mrt: 10,
  zebra: 11,
  bird: 12,
  dnrouted: 13,
  xorp: 14,
  ntk: 15,
  dhcp: 16,
  keepalived: 18,
  babel: 42,
  openr: 99,
  bgp: 186,
  isis: 187,
  ospf: 188,
  rip: 189,
  eigrp: 192,
};

const FILES = ['/usr/share/iproute2/rt_protos', '/usr/lib/iproute2/rt_protos', '/etc/iproute2/rt_protos'];
const DIRS = ['/usr/share/iproute2/rt_protos.d', '/usr/lib/iproute2/rt_protos.d', '/etc/iproute2/rt_protos.d'];

let cached: Map<string, number> | null = null;

function parse(text: string, into: Map<string, number>): void {
  for (const line of text.split('\n')) {
    const m = /^\s*(0x[0-9a-f]+|\d+)\s+(\S+)/i.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) into.set(m[2], Number(m[1]));
  }
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export function protocolNumbers(): Map<string, number> {
  if (cached !== null) return cached;
  const names = new Map(Object.entries(BUILT_IN));
  for (const f of FILES) parse(read(f), names);
  for (const d of DIRS) {
    let entries: string[] = [];
    try {
      entries = readdirSync(d).filter((n) => n.endsWith('.conf'));
    } catch {
      // No such directory.
    }
    for (const n of entries.sort()) parse(read(join(d, n)), names);
  }
  cached = names;
  return names;
}

/** The number of a protocol as iproute2 printed it (a number, or a name from rt_protos); undefined when unknown. */
export function protocolNumber(printed: unknown): number | undefined {
  if (typeof printed === 'number') return printed;
  if (typeof printed !== 'string') return undefined;
  if (/^(0x[0-9a-f]+|\d+)$/i.test(printed)) return Number(printed);
  return protocolNumbers().get(printed);
}

/** True when iproute2 has a name for this number: another program (a DHCP client for 16) may stamp its routes with it. */
export function protocolHasName(protocol: number): boolean {
  for (const n of protocolNumbers().values()) if (n === protocol) return true;
  return false;
}
