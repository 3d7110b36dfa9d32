// The daemon's state as written to disk and read by status and metrics, and a WAN's traffic counters.
import type { LinkState } from './facts.js';
import type { RoundSummary } from './tracking.js';

export interface InterfaceRecord {
  /** What compile was told: online, offline, or down (no usable device). */
  state: LinkState;
  /** What the probes say, regardless of an operator's ifdown. */
  tracked: 'online' | 'offline';
  /** ISO time the current `state` began. */
  since: string;
  carrier: boolean;
  forcedDown: boolean;
  tracking: boolean;
  fails: number;
  goods: number;
  lossPct: number | null;
  rttMs: number | null;
  lastRound: (Omit<RoundSummary, 'at'> & { at: string }) | null;
  /** An interface with track6: its IPv6 tracking and state (the fields above are then its IPv4 ones). */
  ipv6?: InterfaceRecord;
}

export interface DaemonState {
  version: 1;
  pid: number;
  running: boolean;
  configPath: string;
  startedAt: string;
  updatedAt: string;
  interfaces: Record<string, InterfaceRecord>;
  lastApply: { at: string; ok: boolean; error: string | null } | null;
}

export interface WanCounters {
  /** Conntrack entries marked for the WAN. */
  connections: number | null;
  rxBytes: number | null;
  txBytes: number | null;
  rxPackets: number | null;
  txPackets: number | null;
}
