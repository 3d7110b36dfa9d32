// The postrouting chain: SNAT to a fixed address, masquerade per family and IPv6 prefix translation, per WAN.
import type { ResolvedConfig } from '../config/resolved.js';
import { normaliseIpIntervals, parseIpElement } from '../model/net.js';
import type { PlannedInterface } from '../model/plan.js';
import type { ChainRule } from './chain-collector.js';
import { has4, has6 } from './family.js';
import * as x from './nft-expr.js';

export function natRules(config: ResolvedConfig, enabled: readonly PlannedInterface[]): ChainRule[] {
  const out: ChainRule[] = [];
  const rule = (expr: x.Stmt[]) => out.push({ chain: 'postrouting', expr });
  // SNAT to a fixed address (an HA pair's shared address), for forwarded connections only: the router's own packets
  // (VRRP adverts above all, whose checksum covers their source) keep their address, and fall to the masquerade below,
  // which also corrects the source of a connection the output chain re-routed to this WAN.
  const forwarded = x.match('!=', { fib: { result: 'type', flags: ['saddr'] } }, 'local');
  for (const [family, nfproto, carries] of [
    ['ip', 'ipv4', has4],
    ['ip6', 'ipv6', has6],
  ] as const) {
    for (const i of enabled) {
      const iface = config.interfaces[i.name];
      const addr = family === 'ip' ? iface?.snatAddress : iface?.snat6Address;
      if (!carries(i) || (family === 'ip' ? iface?.nat : iface?.nat6) !== 'snat' || addr === undefined) continue;
      rule([x.match('==', x.meta('nfproto'), nfproto), x.match('==', x.meta('oifname'), i.device), forwarded, { snat: { family, addr } }]);
    }
  }
  const nat4 = enabled.filter((i) => has4(i) && ['masquerade', 'snat'].includes(config.interfaces[i.name]?.nat ?? 'none'));
  if (nat4.length > 0) {
    rule([x.match('==', x.meta('nfproto'), 'ipv4'), x.match('==', x.meta('oifname'), x.oneOrSet(nat4.map((i) => i.device))), { masquerade: null }]);
  }
  const nat6 = (...modes: string[]) => enabled.filter((i) => has6(i) && modes.includes(config.interfaces[i.name]?.nat6 ?? 'none'));
  if (nat6('masquerade', 'snat').length > 0) {
    const devices = x.oneOrSet(nat6('masquerade', 'snat').map((i) => i.device));
    rule([x.match('==', x.meta('nfproto'), 'ipv6'), x.match('==', x.meta('oifname'), devices), { masquerade: null }]);
  }
  // Prefix translation: the LAN prefix's host part kept, the WAN's routed prefix in front.
  for (const i of nat6('npt')) {
    const prefix = parseIpElement(config.interfaces[i.name]?.npt6Prefix ?? '');
    if ('error' in prefix) continue;
    const [el] = normaliseIpIntervals('ipv6', [prefix.interval]);
    if (el?.kind !== 'prefix') continue;
    const snat = { family: 'ip6', addr: { prefix: { addr: el.addr, len: el.len } }, flags: 'netmap', type_flags: 'prefix' };
    rule([x.match('==', x.meta('oifname'), i.device), { snat }]);
  }
  return out;
}
