// Validation of an interface's tracking: each target parses for its method and is of the family its tracking probes.
import type { Interface } from '../generated/config.js';
import { DEFAULTS, TRACK_DEFAULTS } from '../model/defaults.js';
import type { IpFamilyName } from '../model/net.js';
import { parseTarget } from '../model/targets.js';

/** Adds an issue for every tracking problem of one interface; `at` makes a pointer under the interface. */
export function trackIssues(iface: Interface, at: (...p: string[]) => string, add: (path: string, message: string) => void): void {
  const family = iface.family ?? DEFAULTS.family;
  if (iface.track6 !== undefined && family !== 'both') {
    add(at('track6'), `only for family "both" (family is "${family}"): an IPv${family === 'ipv6' ? '6' : '4'}-only WAN tracks with "track"`);
  }
  // Which family each track's targets must be: "both" without track6 may mix them (one state for both).
  const tracks: ['track' | 'track6', IpFamilyName | undefined][] = [
    ['track', family === 'both' ? (iface.track6 !== undefined ? 'ipv4' : undefined) : family],
    ['track6', 'ipv6'],
  ];
  for (const [key, want] of tracks) {
    const track = iface[key];
    if (!track) continue;
    const method = track.method ?? TRACK_DEFAULTS.method;
    track.targets.forEach((text, i) => {
      const parsed = parseTarget(method, text);
      if ('error' in parsed) add(at(key, 'targets', String(i)), parsed.error);
      else if (want !== undefined && parsed.family !== null && parsed.family !== want) {
        const why = key === 'track6' ? 'track6 tracks IPv6' : family === 'both' ? 'with track6, track tracks IPv4' : `family is "${family}"`;
        add(
          at(key, 'targets', String(i)),
          `"${text}" is an ${parsed.family === 'ipv4' ? 'IPv4' : 'IPv6'} target, but ${why}: give an ${want === 'ipv4' ? 'IPv4' : 'IPv6'} one`,
        );
      }
    });
    const reliability = track.reliability ?? TRACK_DEFAULTS.reliability;
    if (reliability > track.targets.length) {
      add(at(key, 'reliability'), `reliability ${reliability} needs that many targets, but there are ${track.targets.length}: no round could ever succeed`);
    }
    if (track.expectStatus && method !== 'http') add(at(key, 'expectStatus'), `only for method "http" (method is "${method}")`);
    if (track.dnsName !== undefined && method !== 'dns') add(at(key, 'dnsName'), `only for method "dns" (method is "${method}")`);
  }
}
