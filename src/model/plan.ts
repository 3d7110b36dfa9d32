// The Plan: everything `apply` must bring about, as plain data (nft batch + routing state).

/** One libnftables JSON command object, e.g. {add: {chain: {...}}}. */
export type NftCommand = Record<string, unknown>;

/** What `nft -j -f` reads: {nftables: [...]} */
export interface NftBatch {
  nftables: NftCommand[];
}

export type IpFamily = 4 | 6;

/** A policy-routing rule (`ip rule`). Only the fields nft-mwan uses are modelled. */
export interface RoutingRule {
  family: IpFamily;
  priority: number;
  /** fwmark match: value and mask (both present or both absent). */
  fwmark?: number;
  fwmask?: number;
  /** `from CIDR` match (e.g. a WAN's own address as "198.51.100.10/32"). */
  src?: string;
  /** lookup action: the table to look up; absent for unreachable/blackhole. */
  table?: number | 'main';
  /** `suppress_prefixlength N` (only with a lookup). */
  suppressPrefixLength?: number;
  action: 'lookup' | 'unreachable' | 'blackhole';
  /** rt protocol number that marks the rule as nft-mwan's. */
  protocol: number;
}

/** A route in one of nft-mwan's per-WAN tables. */
export interface Route {
  family: IpFamily;
  table: number;
  /** "default" or a CIDR. */
  dst: string;
  gateway?: string;
  dev: string;
  protocol: number;
  metric?: number;
}

/** The routing state nft-mwan owns once applied: exactly these rules and routes carry its protocol. */
export interface RoutingPlan {
  protocol: number;
  /** Tables nft-mwan owns (only routes with `protocol` in them are ever touched). */
  tables: number[];
  rules: RoutingRule[];
  routes: Route[];
}

/** One step that changes routing state. */
export type RoutingOp =
  { op: 'add-rule'; rule: RoutingRule } | { op: 'del-rule'; rule: RoutingRule } | { op: 'replace-route'; route: Route } | { op: 'del-route'; route: Route };

/** An interface as planned: its stable id, mark and routing table. */
export interface PlannedInterface {
  name: string;
  device: string;
  id: number;
  mark: number;
  table: number;
  family: 'ipv4' | 'ipv6' | 'both';
  /** Next hop, or null for a point-to-point device (or when the WAN does not carry IPv4). */
  gateway: string | null;
  /** IPv6 next hop, likewise. */
  gateway6: string | null;
  enabled: boolean;
  online: boolean;
  /** IPv6's own state when the interface tracks it on its own (track6); absent: `online` serves both families. */
  online6?: boolean;
  /** False when the device is down or gone: its table then holds no route. */
  linkUp: boolean;
  /** The device's IPv4 address, when known: traffic from it is routed through this WAN. */
  address: string | null;
  address6: string | null;
  /**
   * Why the live system keeps this enabled interface down for now (a device that does not exist yet, a gateway
   * not reachable yet): absent when nothing does. The plan's warnings say the same, led by the JSON path.
   */
  waiting?: string;
}

export interface PlannedMember {
  interface: string;
  metric: number;
  weight: number;
  /** True when this member carries NEW connections now (online, in the lowest online metric). */
  active: boolean;
  /** Share of the policy's NEW connections, 0..1. */
  share: number;
}

export interface PlannedPolicy {
  name: string;
  mode: 'random' | 'roundrobin' | 'srchash';
  lastResort: 'unreachable' | 'blackhole' | 'default';
  members: PlannedMember[];
  /** Set when no member is online: the last resort in force. */
  usingLastResort: boolean;
}

export interface Plan {
  table: { family: 'inet'; name: string };
  markMask: number;
  nft: NftBatch;
  routing: RoutingPlan;
  interfaces: PlannedInterface[];
  /** As IPv4 sees them (shares among the members that carry IPv4). */
  policies: PlannedPolicy[];
  /** As IPv6 sees them; empty when no WAN carries IPv6. */
  policies6: PlannedPolicy[];
  /** Things the user should know that do not stop the apply (e.g. an id that had to move). */
  warnings: string[];
  /** Named sets from the config: others may add elements at run time. */
  dynamicSets: string[];
  /** Sticky sets: their elements are live state, never part of a comparison. */
  stickySets: string[];
}
