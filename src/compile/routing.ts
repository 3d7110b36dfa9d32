// The routing state one plan wants: each WAN's table and default route, and the ip rules that lead marked traffic there.
import type { MarkLayout } from '../model/marks.js';
import type { Plan, PlannedInterface, Route, RoutingRule } from '../model/plan.js';
import { carries } from './family.js';

/** `v6`: IPv6 is classified (some enabled WAN carries it, or IPv6 gets the last resorts without one): its special marks need rules. */
export function planRouting(enabled: readonly PlannedInterface[], layout: MarkLayout, o: { priority: number; protocol: number; v6: boolean }): Plan['routing'] {
  const rules: RoutingRule[] = [];
  const routes: Route[] = [];
  const families: (4 | 6)[] = o.v6 ? [4, 6] : [4];
  for (const family of families) {
    const fw = (mark: number) => ({ family, fwmark: mark, fwmask: layout.mask, protocol: o.protocol });
    for (const i of enabled) {
      if (!carries(i, family === 4 ? 'ipv4' : 'ipv6')) continue;
      const gateway = family === 4 ? i.gateway : i.gateway6;
      if (i.linkUp) {
        routes.push({ family, table: i.table, dst: 'default', ...(gateway ? { gateway } : {}), dev: i.device, protocol: o.protocol });
      }
      // Packets arriving from the WAN carry no packet mark (the main table routes them to the LANs): the
      // marked ones leave through the WAN, straight to its table.
      rules.push({ ...fw(i.mark), priority: o.priority + 1, action: 'lookup', table: i.table });
      // Traffic the router sends from this WAN's own address (health probes, local services) leaves through it.
      const address = family === 4 ? i.address : i.address6;
      if (address !== null) {
        const from = { family, src: `${address}/${family === 4 ? 32 : 128}`, protocol: o.protocol };
        rules.push({ ...from, priority: o.priority, action: 'lookup', table: 'main', suppressPrefixLength: 0 });
        // After the fwmark lookups: a connection the rules marked for another WAN keeps that WAN, even though
        // its source address (chosen before the mark) is this one's; masquerade then corrects the source.
        rules.push({ ...from, priority: o.priority + 2, action: 'lookup', table: i.table });
      }
      // If the WAN's table has no route (device gone), never fall through to the main table's default.
      rules.push({ ...fw(i.mark), priority: o.priority + 2, action: 'unreachable' });
    }
    // The router's ICMP errors for such connections are not marked (the output chain accepts related packets
    // first), so they reach the LAN host instead of the rule they report on.
    rules.push({ ...fw(layout.special.unreachable), priority: o.priority + 2, action: 'unreachable' });
    rules.push({ ...fw(layout.special.blackhole), priority: o.priority + 2, action: 'blackhole' });
  }
  return { protocol: o.protocol, tables: enabled.map((i) => i.table), rules, routes };
}
