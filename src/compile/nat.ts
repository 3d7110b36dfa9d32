// The postrouting chain: masquerade per family and IPv6 prefix translation on the WANs that ask for them.
import type { ResolvedConfig } from '../config/resolved.js';
import { normaliseIpIntervals, parseIpElement } from '../model/net.js';
import type { PlannedInterface } from '../model/plan.js';
import type { ChainRule } from './chain-collector.js';
import { has4, has6 } from './family.js';
import * as x from './nft-expr.js';

export function natRules(config: ResolvedConfig, enabled: readonly PlannedInterface[]): ChainRule[] {
  const out: ChainRule[] = [];
  const rule = (expr: x.Stmt[]) => out.push({ chain: 'postrouting', expr });
  const nat4 = enabled.filter((i) => has4(i) && config.interfaces[i.name]?.nat === 'masquerade');
  if (nat4.length > 0) {
    rule([x.match('==', x.meta('nfproto'), 'ipv4'), x.match('==', x.meta('oifname'), x.oneOrSet(nat4.map((i) => i.device))), { masquerade: null }]);
  }
  const nat6 = (mode: string) => enabled.filter((i) => has6(i) && config.interfaces[i.name]?.nat6 === mode);
  if (nat6('masquerade').length > 0) {
    const devices = x.oneOrSet(nat6('masquerade').map((i) => i.device));
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
