// The daemon's tracker keys (also the metrics' and state counters' keys). Which tracker is which: an interface's own (IPv4, or both families) under its name, its IPv6 one (track6) under NAME/ipv6.
import type { Family } from './names.js';

/** A transition's or order's WAN, and the family it concerns when the WAN keeps a state per family. */
export interface FamilyOf {
  name: string;
  family?: Family;
}

/** Interface names never hold '/', so the IPv6 tracker's key cannot be another interface's. */
export const key6 = (name: string): string => `${name}/ipv6`;

export function keyOf(x: FamilyOf): string {
  return x.family === 'ipv6' ? key6(x.name) : x.name;
}

export function ofKey(key: string): { name: string; family: Family | undefined } {
  const slash = key.indexOf('/');
  return slash < 0 ? { name: key, family: undefined } : { name: key.slice(0, slash), family: 'ipv6' };
}
