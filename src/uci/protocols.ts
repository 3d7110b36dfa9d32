// IP protocol names as mwan3's iptables -p resolves them (the usual /etc/protocols, plus iptables' own aliases) -> numbers.

/**
 * iptables lowercases the name, then tries /etc/protocols, then its built-in aliases (icmpv6, mh).
 * The names are those of the /etc/protocols OpenWrt and Debian ship (IANA's assigned numbers).
 */
export const PROTOCOL_NUMBERS: Readonly<Record<string, number>> = {
  ip: 0,
  hopopt: 0,
  icmp: 1,
  igmp: 2,
  ggp: 3,
  ipencap: 4,
  st: 5,
  tcp: 6,
  egp: 8,
  igp: 9,
  pup: 12,
  udp: 17,
  hmp: 20,
  'xns-idp': 22,
  rdp: 27,
  'iso-tp4': 29,
  dccp: 33,
  xtp: 36,
  ddp: 37,
  'idpr-cmtp': 38,
  ipv6: 41,
  'ipv6-route': 43,
  'ipv6-frag': 44,
  idrp: 45,
  rsvp: 46,
  gre: 47,
  esp: 50,
  ah: 51,
  skip: 57,
  'ipv6-icmp': 58,
  icmpv6: 58,
  'ipv6-nonxt': 59,
  'ipv6-opts': 60,
  rspf: 73,
  vmtp: 81,
  eigrp: 88,
  ospf: 89,
  'ax.25': 93,
  ipip: 94,
  etherip: 97,
  encap: 98,
  pim: 103,
  ipcomp: 108,
  vrrp: 112,
  l2tp: 115,
  isis: 124,
  sctp: 132,
  fc: 133,
  'mobility-header': 135,
  'ipv6-mh': 135,
  mh: 135,
  udplite: 136,
  'mpls-in-ip': 137,
  manet: 138,
  hip: 139,
  shim6: 140,
  wesp: 141,
  rohc: 142,
  ethernet: 143,
};

/**
 * mwan3's `proto` as nft-mwan's: "all" (also 0, as iptables reads it), a name nft-mwan knows, a number,
 * or an error when iptables would not have known it either.
 */
export function mapProtocol(text: string): { proto: 'all' | 'tcp' | 'udp' | 'icmp' | 'icmpv6' | number } | { error: string } {
  const t = text.toLowerCase();
  const n = /^\d+$/.test(t) ? Number(t) : PROTOCOL_NUMBERS[t];
  if (t === 'all' || n === 0) return { proto: 'all' };
  if (n === undefined) return { error: `"${text}" is neither a protocol number nor a name in /etc/protocols` };
  if (n > 255) return { error: `${text} is not an IP protocol number (0-255)` };
  // The names nft-mwan's schema has keep their name (ports and explain read them); the rest become numbers.
  if (/^\D/.test(t)) {
    if (n === 6) return { proto: 'tcp' };
    if (n === 17) return { proto: 'udp' };
    if (n === 1) return { proto: 'icmp' };
    if (n === 58) return { proto: 'icmpv6' };
  }
  return { proto: n };
}
