// What compile is told about the moment: link states from tracking, facts read from the system.

/**
 * State per interface name, as the tracker decided; an enabled interface that is absent counts as online.
 * "down": offline and its device is down or gone, so its table gets no route (and no gateway is needed).
 */
export type LinkState = 'online' | 'offline' | 'down';
/** A state per family, for an interface that tracks IPv6 on its own (track6). */
export interface FamilyLinkStates {
  ipv4: LinkState;
  ipv6: LinkState;
}
export type LinkStates = Readonly<Record<string, LinkState | FamilyLinkStates>>;

/** The state one family of an interface is in (one state serves both unless the interface has one per family). */
export function familyState(s: LinkState | FamilyLinkStates | undefined, family: 'ipv4' | 'ipv6'): LinkState | undefined {
  return s === undefined || typeof s === 'string' ? s : s[family];
}

/** What the system looked like when compiling; gathered by src/engine/discover.ts. */
export interface SystemFacts {
  /** Gateways found in the main table for interfaces configured with gateway "auto". */
  autoGateways: Readonly<Record<string, string>>;
  /** Destination networks (CIDR) of the main table's non-default routes: never balanced. */
  connected: readonly string[];
  /** IPv4 address of each interface's device (by interface name), when it has one. */
  addresses?: Readonly<Record<string, string>>;
  /** The same for IPv6 (global addresses), and the main table's IPv6 gateways and specific routes. */
  addresses6?: Readonly<Record<string, string>>;
  autoGateways6?: Readonly<Record<string, string>>;
  connected6?: readonly string[];
  /** Every address of the router itself (IPv4 and IPv6): never balanced. */
  local?: readonly string[];
  local6?: readonly string[];
  /**
   * Devices that exist now (any state). Absent: not read (a pure compile assumes every device exists); a device
   * missing from the list makes its interface `down` with a warning (PPP and modem devices appear later).
   */
  devices?: readonly string[];
  /**
   * Per device, the main table's specific unicast destinations through it (its subnets, on-link routes): a
   * configured gateway outside all of them cannot be reached yet (DHCP has not given an address). Absent: not read.
   */
  subnets?: Readonly<Record<string, readonly string[]>>;
  subnets6?: Readonly<Record<string, readonly string[]>>;
  /** Routes of other protocols in nft-mwan's tables, and foreign fwmark rules overlapping its mask: warned about. */
  foreign?: readonly string[];
  /** Interface ids recorded in the installed table, so they survive re-applies. */
  previousIds: Readonly<Record<string, number>>;
  /** Objects in the installed table, so stale ones are deleted in the same transaction. */
  installed?: { chains: readonly string[]; sets: readonly string[]; maps: readonly string[]; counters?: readonly string[] };
  /** Type and timeout of the installed named sets (sticky sets are only re-created when these change). */
  installedSets?: Readonly<Record<string, { type: unknown; timeout: number | null }>>;
}

export const EMPTY_FACTS: SystemFacts = { autoGateways: {}, connected: [], previousIds: {} };
