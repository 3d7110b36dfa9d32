// Interfaces as planned: stable ids and marks, routing tables, gateways, addresses and states, and the id warnings.
import type { ResolvedConfig, ResolvedInterface } from '../config/resolved.js';
import { MwanError } from '../model/errors.js';
import type { LinkStates, SystemFacts } from '../model/facts.js';
import { allocateIds, type MarkLayout } from '../model/marks.js';
import type { PlannedInterface } from '../model/plan.js';
import { has4, has6 } from './family.js';

export interface PlannedInterfaces {
  /** Sorted by id. */
  interfaces: PlannedInterface[];
  warnings: string[];
}

export function planInterfaces(config: ResolvedConfig, facts: SystemFacts, states: LinkStates, layout: MarkLayout): PlannedInterfaces {
  const warnings: string[] = [];
  const names = Object.keys(config.interfaces);
  const allocation = allocateIds(
    names.map((name) => ({ name, explicitId: config.interfaces[name]?.id })),
    new Map(Object.entries(facts.previousIds)),
    layout.maxId,
  );
  for (const m of allocation.moved) warnings.push(`interface ${m.name}: id ${m.from} -> ${m.to} (${m.reason}); its live connections lose their WAN`);
  // SNAT to a shared address means an HA pair: its two nodes must give every WAN the same mark and table, which only
  // pinned ids guarantee (allocated ids follow each node's own history).
  const ha = names.some((n) => config.interfaces[n]?.nat === 'snat' || config.interfaces[n]?.nat6 === 'snat');
  const unpinned = names.filter((n) => config.interfaces[n]?.id === undefined);
  if (ha && unpinned.length > 0) {
    warnings.push(
      `interfaces ${unpinned.join(', ')} have no pinned "id": an HA pair (nat "snat") needs the same id on both nodes, or synced connections lose their WAN on takeover`,
    );
  }

  const interfaces: PlannedInterface[] = names
    .map((name) => {
      const iface = config.interfaces[name] as ResolvedInterface;
      const id = allocation.ids.get(name) as number;
      const enabled = iface.enabled;
      const state = states[name] ?? 'online';
      const linkUp = enabled && state !== 'down';
      return {
        name,
        device: iface.device,
        id,
        mark: layout.markOf(id),
        table: config.globals.routeTableBase + id,
        family: iface.family,
        gateway: linkUp && has4(iface) ? resolveGateway(name, iface.gateway, facts.autoGateways, iface.device, '') : null,
        gateway6: linkUp && has6(iface) ? resolveGateway(name, iface.gateway6, facts.autoGateways6 ?? {}, iface.device, '6') : null,
        enabled,
        online: enabled && state === 'online',
        linkUp,
        address: enabled && has4(iface) ? (facts.addresses?.[name] ?? null) : null,
        address6: enabled && has6(iface) ? (facts.addresses6?.[name] ?? null) : null,
      };
    })
    .sort((a, b) => a.id - b.id);
  return { interfaces, warnings };
}

function resolveGateway(name: string, gateway: string | undefined, auto: Readonly<Record<string, string>>, device: string, v: '' | '6'): string | null {
  if (gateway === undefined) return null;
  if (gateway !== 'auto') return gateway;
  const found = auto[name];
  if (found === undefined) {
    throw new MwanError({
      code: 'GATEWAY_NOT_FOUND',
      summary:
        `interface ${name}: gateway${v} "auto" but the main table has no IPv${v || '4'} default route through device ${device}; ` +
        `set "gateway${v}" to an address, or bring ${device} up first`,
    });
  }
  return found;
}
