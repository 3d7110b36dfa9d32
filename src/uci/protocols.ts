// mwan3's `proto` as iptables -p resolves it (lowercased, then /etc/protocols and iptables' aliases) -> nft-mwan's.
import { PROTOCOL_NUMBERS } from '../model/protocols.js';

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
