// The names of nft-mwan's objects in its table: one function per name, so compile, verify, status and explain agree.

export type Family = 'ipv4' | 'ipv6';

/** The policy names every config has: the main table, reject, drop. */
export const SPECIALS = ['default', 'blackhole', 'unreachable'] as const;
export type Special = (typeof SPECIALS)[number];

export function isSpecial(name: string): name is Special {
  return (SPECIALS as readonly string[]).includes(name);
}

/** The table's address family: one inet table carries both IP families. */
export const TABLE_FAMILY = 'inet';

/** Chain names. */
export const chainName = {
  mark: (target: string) => `mark_${target}`,
  inbound: (target: string) => `in_${target}`,
  keep: (target: string) => `keep_${target}`,
  policy: (name: string) => `policy_${name}`,
  // Specials start with "_": interface names cannot, so they never collide.
  special: (s: Special) => `_${s}`,
  sticky: (rule: string) => `sticky_${rule}`,
  stick: (rule: string, iface: string, family: Family = 'ipv4') => `stick${family === 'ipv6' ? '6' : ''}_${rule}_${iface}`,
};

/** The timeout set that remembers which sources a sticky rule sent through one WAN (per family). */
export function stickySetName(rule: string, iface: string, family: Family): string {
  return `sticky${family === 'ipv6' ? '6' : ''}_${rule}_${iface}`;
}

/** Named counters per WAN: bytes and packets of the connections it carries, received from it (rx) and sent to it (tx). */
export const counterName = (dir: 'rx' | 'tx', iface: string) => `${dir}_${iface}`;
/** The empty set that marks a table as nft-mwan's own: only such a table is ever replaced or deleted. */
export const OWNER_SET = 'managed_by_nft_mwan';
/** The map that records each interface's id in the table itself. */
export const IDS_MAP = 'interface_ids';
/** Destinations never balanced, per family. */
export const BYPASS_SET = 'bypass_v4';
export const BYPASS_SET6 = 'bypass_v6';
/** [WAN address, target address] pairs of probes to host names, put there by the daemon at each round (timeouts). */
export const PROBE_PAIRS_SET = 'probe_pairs';
export const PROBE_PAIRS_SET6 = 'probe_pairs6';
/** The set of one family's probe pairs for host-name targets (src/compile/chains.ts probePairSets). */
export const probePairSetName = (family: Family): string => (family === 'ipv4' ? PROBE_PAIRS_SET : PROBE_PAIRS_SET6);
