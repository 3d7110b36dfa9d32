// Interfaces as planned: stable ids and marks, routing tables, gateways, addresses and states, and the id warnings.
import type { ResolvedConfig, ResolvedInterface } from '../config/resolved.js';
import { MwanError } from '../model/errors.js';
import { familyState, type LinkStates, type SystemFacts } from '../model/facts.js';
import { allocateIds, type MarkLayout } from '../model/marks.js';
import type { PlannedInterface } from '../model/plan.js';
import { parseIp } from '../model/net.js';
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

  // Others' routing that may interfere with the WANs' (discovery found it): the user should know, nothing stops.
  warnings.push(...(facts.foreign ?? []));

  const interfaces: PlannedInterface[] = names
    .map((name): PlannedInterface => {
      const iface = config.interfaces[name] as ResolvedInterface;
      const id = allocation.ids.get(name) as number;
      const enabled = iface.enabled;
      // One state per family when the daemon tracks them apart; the device is down for both or for neither.
      const given = states[name];
      const state = familyState(given, 'ipv4') ?? 'online';
      const state6 = familyState(given, 'ipv6') ?? 'online';
      const split = given !== undefined && typeof given !== 'string';
      const live = enabled && state !== 'down' ? liveProblems(name, iface, facts) : { gateway: null, gateway6: null, waiting: [] };
      for (const w of live.waiting) warnings.push(w);
      const linkUp = enabled && state !== 'down' && live.waiting.length === 0;
      return {
        name,
        device: iface.device,
        id,
        mark: layout.markOf(id),
        table: config.globals.routeTableBase + id,
        family: iface.family,
        gateway: linkUp ? live.gateway : null,
        gateway6: linkUp ? live.gateway6 : null,
        enabled,
        online: linkUp && state === 'online',
        ...(split ? { online6: linkUp && state6 === 'online' } : {}),
        linkUp,
        address: enabled && has4(iface) ? (facts.addresses?.[name] ?? null) : null,
        address6: enabled && has6(iface) ? (facts.addresses6?.[name] ?? null) : null,
        ...(live.waiting.length > 0 ? { waiting: live.waiting.map((w) => w.slice(w.indexOf(': ') + 2)).join('; ') } : {}),
      };
    })
    .sort((a, b) => a.id - b.id);
  return { interfaces, warnings };
}

/**
 * What the live system does not offer this interface yet: each a warning led by its JSON path, and the interface
 * is installed down (no route, in no policy) until the system catches up. What can never work throws.
 */
function liveProblems(name: string, iface: ResolvedInterface, facts: SystemFacts): { gateway: string | null; gateway6: string | null; waiting: string[] } {
  const waiting: string[] = [];
  const down = `${name} is installed down (no route, in no policy) until`;
  if (facts.devices !== undefined && !facts.devices.includes(iface.device)) {
    waiting.push(`/interfaces/${name}/device: device "${iface.device}" does not exist (yet): ${down} it appears`);
    return { gateway: null, gateway6: null, waiting };
  }
  const resolve = (v: '' | '6'): string | null => {
    const gateway = v === '' ? iface.gateway : iface.gateway6;
    if (gateway === undefined) return null;
    const path = `/interfaces/${name}/gateway${v}`;
    if (gateway === 'auto') {
      const found = (v === '' ? facts.autoGateways : (facts.autoGateways6 ?? {}))[name];
      if (found === undefined) {
        waiting.push(`${path}: "auto" but the main table has no IPv${v || '4'} default route through device ${iface.device} yet: ${down} it has one`);
        return null;
      }
      return found;
    }
    const own = v === '' ? facts.local : facts.local6;
    if (own?.some((a) => sameIp(a, gateway))) {
      throw new MwanError({
        code: 'CONFIG_INVALID',
        summary: "the gateway is one of the router's own addresses",
        issues: [{ path, message: `${gateway} is an address of this router itself, so it can never be the next hop: give the ISP's gateway` }],
      });
    }
    const subnets = v === '' ? facts.subnets : facts.subnets6;
    if (subnets !== undefined && !(subnets[iface.device] ?? []).some((cidr) => covers(cidr, gateway))) {
      waiting.push(`${path}: ${gateway} is on no subnet of device ${iface.device} (yet: no address or route there covers it): ${down} one does`);
      return null;
    }
    return gateway;
  };
  const gateway = has4(iface) ? resolve('') : null;
  const gateway6 = has6(iface) ? resolve('6') : null;
  return { gateway, gateway6, waiting };
}

function sameIp(a: string, b: string): boolean {
  const x = parseIp(a);
  const y = parseIp(b);
  return x !== undefined && y !== undefined && x.family === y.family && x.value === y.value;
}

/** True when `cidr` (an address with an optional /len) contains the address `ip`. */
export function covers(cidr: string, ip: string): boolean {
  const [base = '', lenText] = cidr.split('/');
  const net = parseIp(base);
  const addr = parseIp(ip);
  if (net === undefined || addr === undefined || net.family !== addr.family) return false;
  const bits = net.family === 'ipv4' ? 32 : 128;
  const len = lenText === undefined ? bits : Number(lenText);
  const shift = BigInt(bits - len);
  return net.value >> shift === addr.value >> shift;
}
