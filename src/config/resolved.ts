// The config as every later stage reads it: every key present, each default filled in. Types derived from the generated ones.
import type { Globals, Interface, Member, NamedSet, Policy, Quality, Rule, Track } from '../generated/config.js';

/**
 * Every key present: those with a default filled in; the ones listed in `Absent` have none and are undefined when not
 * given (an absent gateway, match list or hook means "none", exactly as in the file).
 */
type Filled<T, Absent extends keyof T = never> = { [K in keyof Required<T>]: K extends Absent ? NonNullable<T[K]> | undefined : NonNullable<T[K]> };

export type ResolvedQuality = Filled<Quality>;

/** `track` with every default filled in; times in seconds. reliability never exceeds the number of targets. */
export type TrackSettings = Filled<Omit<Track, 'quality' | 'expectStatus' | 'dnsName'>> & {
  /** The family its host-name targets are resolved in: IPv6 for `track6` and an IPv6-only WAN's `track`, else IPv4. */
  family: 'ipv4' | 'ipv6';
  expectStatus: number[] | null;
  dnsName: string | null;
  quality: ResolvedQuality | null;
};

export type ResolvedMetrics = Filled<NonNullable<Globals['metrics']>, 'listen' | 'textfile'>;
/** markMask as a number (the config may write it as a hex string). */
export type ResolvedGlobals = Filled<Omit<Globals, 'markMask' | 'metrics'>, 'hooks' | 'mwan3User'> & { markMask: number; metrics: ResolvedMetrics };
export type ResolvedInterface = Filled<Omit<Interface, 'track' | 'track6'>, 'gateway' | 'gateway6' | 'id' | 'npt6Prefix' | 'snatAddress' | 'snat6Address'> & {
  track: TrackSettings | null;
  /** IPv6 tracking of its own (family "both"): the interface then has a state per family. */
  track6: TrackSettings | null;
};
export type ResolvedMember = Filled<Member>;
export type ResolvedPolicy = Filled<Omit<Policy, 'members'>> & { members: ResolvedMember[] };
export type ResolvedRule = Filled<Rule, 'srcIp' | 'destIp' | 'srcPort' | 'destPort' | 'srcIface' | 'set'>;
export type ResolvedSet = Filled<NamedSet, 'timeout'>;

export interface ResolvedConfig {
  globals: ResolvedGlobals;
  interfaces: Record<string, ResolvedInterface>;
  policies: Record<string, ResolvedPolicy>;
  rules: ResolvedRule[];
  sets: Record<string, ResolvedSet>;
}
