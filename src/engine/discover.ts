// Reads what compile needs from the live system: installed table, owned routing, gateways, connected networks.
import { BYPASS_SET6, IDS_MAP } from '../model/names.js';
import { type SystemFacts } from '../model/facts.js';
import type { Route, RoutingRule } from '../model/plan.js';
import { classifiesIpv6 } from '../config/families.js';
import type { ResolvedConfig } from '../config/resolved.js';
import { listTable } from '../system/nft.js';
import { readIpState, readRoutesWithProtocol, readRules, type IpState, type ListedRule, type MainRoute } from '../system/ip.js';
import type { Runner } from '../system/runner.js';
import { protocolHasName } from '../system/rt-protos.js';
import { markLayout } from '../model/marks.js';
import type { JsonObject, NftObject } from '../model/json.js';

export interface OwnedRouting {
  rules: RoutingRule[];
  routes: Route[];
}

export interface Discovery {
  facts: SystemFacts;
  /** The installed table as listed (null when absent): the rollback snapshot. */
  listing: NftObject[] | null;
  routing: OwnedRouting;
  /** The families whose owned routing was read (a rollback compares only those). */
  routingFamilies: (4 | 6)[];
  /** The ip state this discovery was made of (read, or the caller's snapshot). */
  ip: IpSnapshot;
}

/** One read of ip rules, routes and addresses: what a caller may hand the next discovery while nothing changed them. */
export interface IpSnapshot {
  protocol: number;
  ip4: IpState;
  ip6: IpState | null;
  /** Every device that exists (`ip monitor` reports links too, so a caller's snapshot stays as current as the rest). */
  devices: string[];
}

/** ip rules and routes stamped with nft-mwan's protocol: the only ones it ever changes. */
export async function readOwnedRouting(run: Runner, protocol: number, families: readonly (4 | 6)[] = [4, 6]): Promise<OwnedRouting> {
  const read = await Promise.all(families.map((f) => Promise.all([readRules(run, f), readRoutesWithProtocol(run, f, protocol)])));
  return ownedRouting(
    read.flatMap(([r]) => r),
    read.flatMap(([, r]) => r),
    protocol,
  );
}

function ownedRouting(rules: readonly ListedRule[], routes: Route[], protocol: number): OwnedRouting {
  const owned = rules.flatMap((r): RoutingRule[] => {
    if (r.protocol !== protocol || r.action === 'other') return [];
    const { raw: _raw, ...rest } = r;
    const table = typeof r.table === 'string' && r.table !== 'main' ? undefined : r.table;
    return [{ ...rest, action: r.action, protocol, ...(table === undefined ? {} : { table }) } as RoutingRule];
  });
  // A number with a name (16 = dhcp) is stamped by others as well: only the tables nft-mwan's rules use are its own.
  if (!protocolHasName(protocol)) return { rules: owned, routes };
  const tables = new Set(owned.flatMap((r) => (typeof r.table === 'number' ? [r.table] : [])));
  return { rules: owned, routes: routes.filter((r) => tables.has(r.table)) };
}

/**
 * `known`: the table as this process last verified it (the daemon's own last read-back), used instead of
 * listing it again; only routing and addresses are read. The caller falls back to a full discovery when
 * the plan against it is not an incremental one. `ip`: the ip state of an earlier discovery, used instead
 * of reading it when it was read with the same protocol and families (the daemon passes it only while
 * `ip monitor` has reported no change since).
 */
export async function discover(run: Runner, config: ResolvedConfig, known: NftObject[] | null = null, ip: IpSnapshot | null = null): Promise<Discovery> {
  const name = config.globals.table;
  const protocol = config.globals.routeProtocol;
  const has6 = classifiesIpv6(config);
  const reuse = ip !== null && ip.protocol === protocol && (ip.ip6 !== null) === has6;
  // IPv6 is read only with an IPv6 WAN (a stale IPv6 setup is read below when the table shows one). Others' routes in
  // nft-mwan's tables are looked for when discovering afresh (a check, an apply), not on the daemon's fast path.
  // The ip processes are spawned before nft is asked: listing the table in process first loads libnftables, which
  // then overlaps their run instead of delaying their start.
  const tables = { first: config.globals.routeTableBase + 1, last: config.globals.routeTableBase + markLayout(config.globals.markMask).maxId };
  const fresh = known === null && ip === null;
  const reading = reuse ? Promise.resolve({ ip, strangers: [] }) : readIp(run, protocol, has6, fresh ? tables : null);
  const [{ ip: snapshot, strangers }, listing] = await Promise.all([reading, known ?? listTable(run, 'inet', name)]);
  const { ip4, ip6, devices } = snapshot;
  const main = ip4.main;
  const main6 = ip6?.main ?? [];
  const deviceAddresses = ip4.addresses;
  const deviceAddresses6 = ip6?.addresses ?? { byDevice: new Map<string, string>(), all: [] };
  const states: IpState[] = ip6 ? [ip4, ip6] : [ip4];
  const routing4or46 = ownedRouting(
    states.flatMap((st) => st.rules),
    states.flatMap((st) => st.owned),
    protocol,
  );
  const byInterface = (devices: Map<string, string>) => {
    const out: Record<string, string> = {};
    for (const [ifName, iface] of Object.entries(config.interfaces)) {
      const address = devices.get(iface.device);
      if (address !== undefined) out[ifName] = address;
    }
    return out;
  };
  const gateways = (routes: typeof main, setting: (i: (typeof config.interfaces)[string]) => string | undefined) => {
    const out: Record<string, string> = {};
    for (const [ifName, iface] of Object.entries(config.interfaces)) {
      if (setting(iface) !== 'auto') continue;
      const best = autoGateway(routes, iface.device);
      if (best !== undefined) out[ifName] = best;
    }
    return out;
  };
  // A config without IPv6 still cleans up after one that had it: the installed table says so.
  const stale6 = !has6 && (listing ?? []).some((o) => (o.set as NftObject | undefined)?.name === BYPASS_SET6);
  const routing = stale6 ? await readOwnedRouting(run, protocol) : routing4or46;
  const routingFamilies: (4 | 6)[] = has6 || stale6 ? [4, 6] : [4];
  const facts: SystemFacts = {
    autoGateways: gateways(main, (i) => i.gateway),
    addresses: byInterface(deviceAddresses.byDevice),
    local: deviceAddresses.all,
    connected: specificRoutes(main),
    devices,
    subnets: subnetsByDevice(main),
    foreign: [
      ...foreignRules(
        states.flatMap((st) => st.rules),
        protocol,
        config.globals.markMask,
      ),
      ...strangers,
    ],
    ...tableFacts(listing),
  };
  if (has6) {
    facts.autoGateways6 = gateways(main6, (i) => i.gateway6);
    facts.addresses6 = byInterface(deviceAddresses6.byDevice);
    facts.local6 = deviceAddresses6.all;
    facts.connected6 = specificRoutes(main6);
    facts.subnets6 = subnetsByDevice(main6);
  }
  return { facts, listing, routing, routingFamilies, ip: snapshot };
}

/** Per device, the specific unicast routes through it: where a configured gateway must lie to be reachable. */
export function subnetsByDevice(routes: readonly MainRoute[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const r of routes) {
    if (r.dst === 'default' || r.dev === undefined || (r.type !== undefined && r.type !== 'unicast')) continue;
    (out[r.dev] ??= []).push(r.dst.includes('/') ? r.dst : `${r.dst}/${r.dst.includes(':') ? 128 : 32}`);
  }
  return out;
}

/**
 * The ip state afresh: one ip process per family, the device list in IPv4's, and with `strangerTables` every route
 * too, for others' routes in those tables. Only a warning depends on these: a listing that failed or did not parse
 * (allRoutes null) loses the warning, not the discovery.
 */
async function readIp(
  run: Runner,
  protocol: number,
  has6: boolean,
  strangerTables: { first: number; last: number } | null,
): Promise<{ ip: IpSnapshot; strangers: string[] }> {
  const allRoutes = strangerTables !== null;
  const [r4, r6] = await Promise.all([
    readIpState(run, 4, protocol, { links: true, allRoutes }),
    has6 ? readIpState(run, 6, protocol, { allRoutes }) : Promise.resolve(null),
  ]);
  const strangers =
    strangerTables === null
      ? []
      : [...foreignIn(r4.allRoutes ?? [], 4, protocol, strangerTables), ...foreignIn(r6?.allRoutes ?? [], 6, protocol, strangerTables)];
  return { ip: { protocol, ip4: r4.state, ip6: r6?.state ?? null, devices: [...(r4.links ?? new Map<string, unknown>()).keys()] }, strangers };
}

/** Pure: the routes of `ip -j route show table all` that sit in nft-mwan's tables without its protocol. */
export function foreignIn(routes: readonly JsonObject[], family: 4 | 6, protocol: number, tables: { first: number; last: number }): string[] {
  return routes
    .filter((r) => {
      const table = typeof r.table === 'number' ? r.table : Number(r.table);
      return table >= tables.first && table <= tables.last && Number(r.protocol) !== protocol;
    })
    .map((r) => {
      // ip -j gives these as strings (or a protocol's name); String() only types the unknown JSON values.
      // eslint-disable-next-line @typescript-eslint/no-base-to-string
      const [dst, table, proto] = [String(r.dst), String(r.table), String(r.protocol ?? 'unspec')];
      return (
        `/globals/routeTableBase: a foreign IPv${family} route (${dst}${typeof r.dev === 'string' ? ` dev ${r.dev}` : ''}, proto ${proto}) is in table ${table}, ` +
        `one of nft-mwan's: nft-mwan never removes it, and it takes part in that WAN's routing`
      );
    });
}

/** Others' fwmark rules whose mask shares bits with nft-mwan's: they may catch (or be caught by) its marks. */
export function foreignRules(rules: readonly ListedRule[], protocol: number, markMask: number): string[] {
  const hex = (n: number) => `0x${n.toString(16)}`;
  return rules
    .filter((r) => r.protocol !== protocol && r.fwmark !== undefined && ((r.fwmask ?? 0xffffffff) & markMask) !== 0)
    .map(
      (r) =>
        `/globals/markMask: a foreign ip rule (priority ${r.priority}, IPv${r.family}) matches fwmark ${hex(r.fwmark ?? 0)}/${hex(r.fwmask ?? 0xffffffff)}, ` +
        `which overlaps nft-mwan's mask ${hex(markMask)}: it may steer nft-mwan's marked packets, or nft-mwan's marks its traffic`,
    );
}

/** The next hop "auto" means for a device: the main table's default route through it with the lowest metric. */
export function autoGateway(routes: readonly MainRoute[], device: string): string | undefined {
  return routes.filter((r) => r.dst === 'default' && r.dev === device && r.gateway !== undefined).sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0))[0]?.gateway;
}

/**
 * The main table's specific unicast routes (LANs, the ISPs' own subnets, static routes, a VPN): never balanced,
 * they fill the bypass set.
 */
export function specificRoutes(routes: readonly MainRoute[]): string[] {
  return routes.filter((r) => r.dst !== 'default' && (r.type === undefined || r.type === 'unicast')).map((r) => r.dst);
}

/** What compile needs to know about the installed table: its ids, its objects, its sets' types and timeouts. */
export function tableFacts(listing: NftObject[] | null): Pick<SystemFacts, 'previousIds' | 'installed' | 'installedSets'> {
  return { previousIds: idsOf(listing), installed: namesOf(listing), installedSets: setsOf(listing) };
}

function idsOf(listing: NftObject[] | null): Record<string, number> {
  const ids: Record<string, number> = {};
  for (const item of listing ?? []) {
    const map = item.map as NftObject | undefined;
    if (map?.name !== IDS_MAP) continue;
    for (const e of (map.elem as unknown[] | undefined) ?? []) {
      if (Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'number') ids[e[0]] = e[1];
    }
  }
  return ids;
}

function setsOf(listing: NftObject[] | null): SystemFacts['installedSets'] {
  const out: Record<string, { type: unknown; timeout: number | null }> = {};
  for (const item of listing ?? []) {
    const set = item.set as NftObject | undefined;
    if (set && typeof set.name === 'string') out[set.name] = { type: set.type, timeout: typeof set.timeout === 'number' ? set.timeout : null };
  }
  return out;
}

function namesOf(listing: NftObject[] | null): SystemFacts['installed'] {
  const of = (kind: string) => (listing ?? []).filter((i) => kind in i).map((i) => String((i[kind] as NftObject).name));
  return { chains: of('chain'), sets: of('set'), maps: of('map'), counters: of('counter') };
}
