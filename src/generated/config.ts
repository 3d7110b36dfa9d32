// GENERATED from schema/config.schema.json by scripts/gen-types.mjs: do not edit by hand.

/**
 * Letters, digits and '_' (as UCI section names), starting with a letter or digit; at most 15 characters.
 */
export type InterfaceName = string;
export type Port = number | string;

/**
 * nft-mwan configuration: WAN interfaces, policies (members by metric and weight) and ordered rules.
 */
export interface NftMwanConfig {
  /**
   * Path or URL of this schema, for editors.
   */
  $schema?: string;
  globals?: Globals;
  /**
   * WAN interfaces by logical name (up to 15 characters, like mwan3's netifd names). May be empty: the table is then installed and balances nothing (check and apply warn).
   */
  interfaces: {
    [k: string]: Interface;
  };
  /**
   * Policies by name: which interfaces carry NEW connections, by metric (failover tier) and weight (share).
   */
  policies: {
    [k: string]: Policy;
  };
  /**
   * Evaluated in order for NEW connections; the first match decides. Unmatched traffic uses the main routing table.
   */
  rules?: Rule[];
  /**
   * Named sets rules can match ("set"), kept across re-applies and fillable at run time (nft-mwan set add, dnsmasq nftset: inet#TABLE#NAME).
   */
  sets?: {
    [k: string]: NamedSet;
  };
}
export interface Globals {
  /**
   * The firewall-mark bits nft-mwan owns (mwan3's mmx_mask). Bits outside it are preserved. A hex string like "0x3f00" or an integer. Not 0xffffffff: nft drops an all-ones mask from the rules it lists (so the table could not be verified), and no bit would be left for other marks.
   */
  markMask?: string | number;
  /**
   * Name of the inet nftables table nft-mwan owns. Nothing outside it is touched.
   */
  table?: string;
  /**
   * Interface id N uses routing table routeTableBase + N. The default keeps clear of local (255), main (254), default (253) and IPsec's 220.
   */
  routeTableBase?: number;
  /**
   * First ip rule priority used: P (main table without its default route), P+1 (fwmark lookups), P+2 (fwmark unreachable/blackhole).
   */
  rulePriority?: number;
  /**
   * rt protocol number stamped on every ip rule and route nft-mwan installs; only those are ever changed or removed.
   */
  routeProtocol?: number;
  /**
   * Extra destination networks (CIDR) that are never balanced, in addition to the router's own addresses and directly connected networks.
   */
  bypass?: string[];
  /**
   * An executable, or a directory of executables, run on every state change with ACTION, INTERFACE, DEVICE (mwan3.user names) and NFT_MWAN_* variables in the environment. Must be owned by root and not writable by others.
   */
  hooks?: string;
  /**
   * Seconds a hook may run before it is killed.
   */
  hookTimeout?: number;
  /**
   * Prometheus metrics from the daemon: WAN state, probe RTT and loss, state changes, connections and bytes per WAN.
   */
  metrics?: {
    /**
     * Serve GET /metrics on this loopback address, e.g. "127.0.0.1:9523" (only 127.0.0.0/8 or [::1]: metrics stay on the router).
     */
    listen?: string;
    /**
     * Write the metrics to this file for node_exporter's textfile collector (atomically), e.g. "/var/lib/prometheus/node-exporter/nft_mwan.prom".
     */
    textfile?: string;
    /**
     * Seconds between textfile writes (also written on every state change).
     */
    interval?: number;
  };
  /**
   * nft-mwan use WAN -- CMD runs CMD with group id useGidBase + the WAN's id; the output chain sends that group's new connections through that WAN. Pick a range no real group uses.
   */
  useGidBase?: number;
  /**
   * What IPv6 connections get while no enabled interface carries IPv6. "main": the rules are not applied to IPv6, the main routing table routes it all. "lastResort": IPv6 goes through the rules as IPv4 does, and a rule's policy, having no IPv6 member, gives its last resort (unreachable unless set; "default" is the main table), as mwan3 does with ip6tables; IPv6 no rule matches uses the main table.
   */
  ipv6WithoutWan?: 'main' | 'lastResort';
  /**
   * An existing /etc/mwan3.user: run by /bin/sh on every state change with only ACTION (ifup, ifdown, connected, disconnected), INTERFACE and DEVICE set, as mwan3 does. Must be owned by root and not writable by others.
   */
  mwan3User?: string;
}
export interface Interface {
  /**
   * Linux network device: at most 15 characters, printable ASCII, not "." or "..", without white space, '/', ':', '#', quotes, backslash or '*' (nft would read a trailing '*' as a wildcard matching other devices), and not the loopback device lo.
   */
  device: string;
  /**
   * Next-hop IPv4 address, or "auto" to use the default route through `device` found in the main table. Absent for point-to-point devices (route through the device).
   */
  gateway?: string;
  /**
   * Stable id that fixes the interface's mark and routing table. When absent, an id is allocated once and kept across re-applies.
   */
  id?: number;
  /**
   * A disabled interface is configured but never used.
   */
  enabled?: boolean;
  track?: Track;
  /**
   * Only with family "both": IPv6 tracking of its own (IPv6 targets). The interface then keeps a state per family: IPv4 connections follow `track`, IPv6 ones `track6` (as mwan3's wan and wan6). Without it, `track` (IPv4 targets) governs both families.
   */
  track6?: Track;
  /**
   * State assumed when the daemon starts, before the first probe round decides (mwan3's initial_state).
   */
  initialState?: 'online' | 'offline';
  /**
   * When this interface goes offline (and/or comes back online), delete the conntrack entries marked for THIS interface only, after the new rules are in place. Never a global flush.
   */
  flushConntrack?: ('offline' | 'online')[];
  /**
   * Which address families this WAN carries. "both": one interface for a dual-stack uplink (mwan3 needs a wan and a wan6 section).
   */
  family?: 'ipv4' | 'ipv6' | 'both';
  /**
   * IPv6 next hop: an address, "auto" (the main table's IPv6 default route through the device, as installed by router advertisements or DHCPv6), or absent for a point-to-point device.
   */
  gateway6?: string;
  /**
   * IPv4 NAT on this WAN: masquerade (the usual: the WAN's address), snat (to snatAddress: an HA pair's VRRP address on this WAN, which the peer takes over with the connections; see docs/ha.md), or none (your addresses are routed by the ISP).
   */
  nat?: 'masquerade' | 'snat' | 'none';
  /**
   * With nat "snat": the IPv4 address forwarded connections leave this WAN with (in an HA pair, the VRRP address both nodes share on this WAN). The router's own connections are still masqueraded.
   */
  snatAddress?: string;
  /**
   * IPv6 NAT on this WAN: masquerade (NAT66 to the WAN's address), npt (stateless-style prefix translation to npt6Prefix: nft snat prefix, keeps the host part), snat (to snat6Address, as nat "snat"), or none (your prefix is routed by this ISP, or you run NPTv6 elsewhere).
   */
  nat6?: 'masquerade' | 'npt' | 'snat' | 'none';
  /**
   * With nat6 "npt": the IPv6 prefix (CIDR) this ISP routes to you; LAN sources are mapped into it.
   */
  npt6Prefix?: string;
  /**
   * With nat6 "snat": the IPv6 address forwarded connections leave this WAN with (an HA pair's shared address).
   */
  snat6Address?: string;
}
/**
 * Health tracking: probe rounds through this WAN decide whether it is online. Times are seconds and may be fractions. Without track, an interface is online while its device has carrier.
 */
export interface Track {
  /**
   * Hosts to probe: IPv4 or IPv6 addresses or host names (ping, dns: the DNS server to query), address:port, [IPv6]:port or name:port (tcp), http(s)://host[:port]/path URLs with an IPv6 host in brackets (http). Targets are of the family this tracking probes: IPv4 for an IPv4 WAN or a dual-stack one with track6, IPv6 for an IPv6 WAN and in track6, either for a dual-stack WAN without track6. A host name is looked up at every round through the system resolver in that family (IPv4 for a dual-stack WAN without track6), its lookup time counting against the timeout; a name that does not resolve is a missed probe of that target. Each probe leaves through this WAN, whatever the main table says.
   *
   * @minItems 1
   */
  targets: [string, ...string[]];
  /**
   * ping: ICMP echo (an ICMP error is a failure); tcp: TCP connect; http: HTTP(S) GET with an expected status; dns: a DNS query over UDP.
   */
  method?: 'ping' | 'tcp' | 'http' | 'dns';
  /**
   * How many targets must answer for a round to succeed.
   */
  reliability?: number;
  /**
   * Probes per target per round.
   */
  count?: number;
  /**
   * Seconds to wait for each probe's answer. At least 0.05 s (20 a second): faster probing only burns CPU and can make healthy WANs flap.
   */
  timeout?: number;
  /**
   * Seconds between the starts of rounds while online (a round that takes longer is followed at once by the next). At least 0.05 s (20 a second): faster probing only burns CPU and can make healthy WANs flap.
   */
  interval?: number;
  /**
   * Seconds between rounds while failing (default: interval). At least 0.05 s (20 a second): faster probing only burns CPU and can make healthy WANs flap.
   */
  failureInterval?: number;
  /**
   * Seconds between rounds while offline or recovering (default: interval). At least 0.05 s (20 a second): faster probing only burns CPU and can make healthy WANs flap.
   */
  recoveryInterval?: number;
  /**
   * Failed rounds in a row that take the interface offline.
   */
  down?: number;
  /**
   * Good rounds in a row that bring it back online.
   */
  up?: number;
  /**
   * http: statuses that count as success (default 200-399).
   */
  expectStatus?: number[];
  /**
   * dns: the name queried (default: the root zone's NS records).
   */
  dnsName?: string;
  quality?: Quality;
}
/**
 * Latency and loss thresholds over a sliding window of recent probes; a round that breaks them counts as failed.
 */
export interface Quality {
  /**
   * While online, a round fails when the average RTT exceeds this.
   */
  failureLatencyMs?: number;
  /**
   * While online, a round fails when the loss over the window exceeds this.
   */
  failureLossPct?: number;
  /**
   * While offline, a round only counts as good when the average RTT is at most this.
   */
  recoveryLatencyMs?: number;
  /**
   * While offline, a round only counts as good when the loss is at most this.
   */
  recoveryLossPct?: number;
  /**
   * How many recent probes the latency average and the loss are computed over. The window is cleared on every state change, so a decision is always made on fresh probes.
   */
  window?: number;
}
export interface Policy {
  /**
   * @minItems 1
   */
  members: [Member, ...Member[]];
  /**
   * What happens when no member is online: reject (unreachable), drop silently (blackhole), or use the main routing table (default).
   */
  lastResort?: 'unreachable' | 'blackhole' | 'default';
  /**
   * How NEW connections are spread over the active members by weight. random (default): numgen random, stateless, no shared counter, unaffected by re-applies, statistically exact (as mwan3). roundrobin: numgen inc, exactly weight-proportional in every cycle (3:1 = 3 then 1 of each 4), the counter restarts at each re-apply. srchash: jhash of the source address with a fixed seed per policy, so one source keeps its WAN across re-applies while the members stay the same.
   */
  mode?: 'random' | 'roundrobin' | 'srchash';
}
export interface Member {
  interface: InterfaceName;
  /**
   * Failover tier: the online members with the lowest metric share traffic; higher metrics take over when they fail.
   */
  metric?: number;
  /**
   * Share of NEW connections among members of the same metric.
   */
  weight?: number;
}
export interface Rule {
  /**
   * Unique rule name: letters, digits and '_', at most 64 characters.
   */
  name: string;
  /**
   * Source addresses: IPv4 or IPv6 CIDRs ("10.0.0.0/8", "2001:db8::/48"), addresses or ranges ("10.0.0.5-10.0.0.9"); or ONE IPv4 address with a dotted mask, contiguous or not ("0.0.0.1/0.0.0.1": odd addresses), matched as ip saddr & MASK == ADDR, as iptables -s takes it.
   *
   * @minItems 1
   */
  srcIp?: [string, ...string[]];
  /**
   * Destination addresses, as srcIp.
   *
   * @minItems 1
   */
  destIp?: [string, ...string[]];
  /**
   * Protocol name (tcp, udp, icmp, icmpv6), an IP protocol number, or all (the default).
   */
  proto?: ('all' | 'tcp' | 'udp' | 'icmp' | 'icmpv6') | number;
  /**
   * Source ports (tcp or udp only): numbers or ranges like "8000-8080".
   *
   * @minItems 1
   */
  srcPort?: [Port, ...Port[]];
  /**
   * Destination ports (tcp or udp only): numbers or ranges like "8000-8080".
   *
   * @minItems 1
   */
  destPort?: [Port, ...Port[]];
  /**
   * A policy name, or default (main table), unreachable or blackhole.
   */
  policy: string;
  /**
   * Devices the connection comes in on (e.g. ["lan0"]); nft-mwan matches the device name, like mwan3 src_iface but with the device rather than the netifd name.
   *
   * @minItems 1
   */
  srcIface?: [string, ...string[]];
  /**
   * A named set (see "sets"): matches when the destination address is in it, like mwan3's ipset option.
   */
  set?: string;
  /**
   * Log each NEW connection this rule matches (kernel log, prefix "nft-mwan RULE: ").
   */
  log?: boolean;
  /**
   * A source that opened a connection through a WAN under this rule keeps that WAN for its new connections until stickyTimeout passes without any; never a WAN that is offline (the source is rebalanced).
   */
  sticky?: boolean;
  /**
   * Seconds a sticky entry lives after the last new connection that used it.
   */
  stickyTimeout?: number;
  /**
   * Sticky per source address, or per source and destination pair.
   */
  stickyBy?: 'src' | 'srcdst';
  /**
   * Which address family the rule applies to; with addresses given it follows from them (a rule may hold both families).
   */
  family?: 'ipv4' | 'ipv6' | 'any';
}
export interface NamedSet {
  /**
   * What the set holds: IPv4 or IPv6 addresses, CIDRs and ranges.
   */
  type: 'ipv4_addr' | 'ipv6_addr';
  /**
   * Elements installed with the config; elements added at run time are kept across re-applies.
   */
  elements?: string[];
  /**
   * Seconds an element lives (config elements are added again at every apply): for sets filled at run time, such as dnsmasq nftset.
   */
  timeout?: number;
}
