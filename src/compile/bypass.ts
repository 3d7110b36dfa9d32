// The destinations never balanced (the bypass sets' contents) and address texts as the fewest set elements.
import type { ResolvedConfig } from '../config/resolved.js';
import type { SystemFacts } from '../model/facts.js';
import { normaliseIpIntervals, parseIpElement } from '../model/net.js';
import type { Family } from './family.js';
import * as x from './nft-expr.js';

/** Destinations that are the router's or the link's whatever the addresses: loopback, broadcast, multicast, link-local. */
const ALWAYS_LOCAL = {
  ipv4: ['127.0.0.0/8', '224.0.0.0/4', '255.255.255.255/32'],
  ipv6: ['::1/128', 'fe80::/10', 'ff00::/8'],
} as const;

/** What the bypass sets hold, both families (each set takes its own): `explain` reads the same list. */
export function bypassTexts(config: ResolvedConfig, facts: SystemFacts): string[] {
  return [
    ...ALWAYS_LOCAL.ipv4,
    ...ALWAYS_LOCAL.ipv6,
    ...(facts.local ?? []),
    ...(facts.local6 ?? []),
    ...facts.connected,
    ...(facts.connected6 ?? []),
    ...config.globals.bypass,
  ];
}

/** The texts of one family (others are skipped), merged into the fewest prefixes. */
export function addressElements(family: Family, texts: readonly string[]): x.Expr[] {
  const intervals = texts.flatMap((t) => {
    const parsed = parseIpElement(t);
    return 'error' in parsed ? [] : [parsed.interval];
  });
  return normaliseIpIntervals(family, intervals).map(x.addrElement);
}
