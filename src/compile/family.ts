// Which IP families a WAN carries, and how nft names a family's header.
import type { Family } from '../model/names.js';

export type { Family };

export const has4 = (i: { family: string }): boolean => i.family !== 'ipv6';
export const has6 = (i: { family: string }): boolean => i.family !== 'ipv4';

/** Whether a WAN carries one family (a "both" WAN carries either). */
export function carries(i: { family: string }, family: Family): boolean {
  return family === 'ipv4' ? has4(i) : has6(i);
}

/** The payload protocol whose addresses belong to a family: `ip saddr`, `ip6 saddr`. */
export function ipProtocol(family: Family): 'ip' | 'ip6' {
  return family === 'ipv6' ? 'ip6' : 'ip';
}

/** Whether a WAN takes new connections of one family: IPv6 follows its own state when it has one (track6). */
export function onlineFor(i: { online: boolean; online6?: boolean }, family: Family): boolean {
  return family === 'ipv6' ? (i.online6 ?? i.online) : i.online;
}
