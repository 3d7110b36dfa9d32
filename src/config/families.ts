// Whether a config may classify IPv6: an interface carrying it, or IPv6 given the policies' last resorts without one.
import type { ResolvedConfig } from './resolved.js';

/**
 * What discovery reads IPv6 state for: some interface (enabled or not) carries IPv6, or ipv6WithoutWan is "lastResort".
 * validate.ts repeats it (carries6) on the raw config, before normalize fills in the defaults: keep the two alike.
 */
export function classifiesIpv6(config: ResolvedConfig): boolean {
  return config.globals.ipv6WithoutWan === 'lastResort' || Object.values(config.interfaces).some((i) => i.family !== 'ipv4');
}
