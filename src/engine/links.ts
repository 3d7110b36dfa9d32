// Which WANs can carry traffic at all (device up with carrier, a next hop for gateway "auto"), and what the bypass set holds.
import { classifiesIpv6 } from '../config/families.js';
import type { ResolvedConfig } from '../config/resolved.js';
import { readLinks, readMainRoutes, type LinkInfo, type MainRoute } from '../system/ip.js';
import type { Runner } from '../system/runner.js';
import { autoGateway, specificRoutes } from './discover.js';

export interface Usability {
  /** Per interface: device present, up, with carrier, and for gateway "auto" a default route through it in the main table. */
  usable: Map<string, boolean>;
  /** The main table's specific routes (the bypass set's content), sorted, as one string to compare with the last read. */
  bypass: string;
  /** The next hop of every "auto" gateway, as one string to compare (a DHCP renewal or a router advertisement may change it). */
  gateways: string;
}

/** One read of links and main tables (IPv6 only with an IPv6 WAN: its gateway may be "auto", its bypass set follows). */
export async function readUsability(run: Runner, config: ResolvedConfig): Promise<Usability> {
  const v6 = classifiesIpv6(config);
  const [links, main, main6] = await Promise.all([readLinks(run), readMainRoutes(run, 4), v6 ? readMainRoutes(run, 6) : Promise.resolve([])]);
  return usability(config, links, main, main6);
}

/** Pure: what `readUsability` concludes from what it read. */
export function usability(config: ResolvedConfig, links: ReadonlyMap<string, LinkInfo>, main: readonly MainRoute[], main6: readonly MainRoute[]): Usability {
  const hasDefault = (routes: readonly MainRoute[], device: string) => routes.some((r) => r.dst === 'default' && r.dev === device && r.gateway);
  const usable = new Map<string, boolean>();
  for (const [name, iface] of Object.entries(config.interfaces)) {
    const ok4 = iface.family === 'ipv6' || iface.gateway !== 'auto' || hasDefault(main, iface.device);
    const ok6 = iface.family === 'ipv4' || iface.gateway6 !== 'auto' || hasDefault(main6, iface.device);
    usable.set(name, (links.get(iface.device)?.carrier ?? false) && ok4 && ok6);
  }
  const gateways = Object.entries(config.interfaces).flatMap(([name, i]) => [
    ...(i.gateway === 'auto' ? [`${name}=${autoGateway(main, i.device) ?? '-'}`] : []),
    ...(i.gateway6 === 'auto' ? [`${name}/6=${autoGateway(main6, i.device) ?? '-'}`] : []),
  ]);
  return { usable, bypass: [...specificRoutes(main), ...specificRoutes(main6)].sort().join(' '), gateways: gateways.join(' ') };
}
