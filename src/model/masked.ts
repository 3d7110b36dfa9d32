// An IPv4 address with a dotted netmask ("0.0.0.1/0.0.0.1"), contiguous or not, as iptables -s/-d takes it.
import { parseIpv4 } from './net.js';

export interface MaskedIpv4 {
  addr: number;
  mask: number;
}

/** "a.b.c.d/m.m.m.m" as numbers; undefined for anything else (a CIDR's /24 included). */
export function parseMaskedIpv4(text: string): MaskedIpv4 | undefined {
  const slash = text.indexOf('/');
  // Looked for in place: every address of every rule is asked, and few are masks.
  if (slash < 0 || text.indexOf('.', slash + 1) < 0) return undefined;
  const addr = parseIpv4(text.slice(0, slash));
  const mask = parseIpv4(text.slice(slash + 1));
  return addr === undefined || mask === undefined ? undefined : { addr, mask };
}

/** The prefix length of a contiguous mask (255.255.255.0 -> 24), or undefined for a non-contiguous one. */
export function maskPrefix(mask: number): number | undefined {
  const inverted = ~mask >>> 0;
  return (inverted & (inverted + 1)) === 0 ? 32 - Math.log2(inverted + 1) : undefined;
}

/** Does the address match: its masked bits equal the address's. */
export function inMasked(m: MaskedIpv4, address: number): boolean {
  return (address & m.mask) >>> 0 === m.addr;
}

/** An ADDR/MASK address: IPv4 only, no address bit outside the mask (it could never match), alone in its field (no nft set holds it). */
export function maskedIssue(m: MaskedIpv4, count: number, family: string): string | undefined {
  if (family === 'ipv6') return 'an address/mask is IPv4 but the rule is "family": "ipv6"';
  if ((m.addr & ~m.mask) !== 0) return 'the address has bits outside its mask: it can never match';
  return count > 1 ? 'an address/mask (a.b.c.d/m.m.m.m) must be the only value of its field' : undefined;
}
