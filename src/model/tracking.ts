// What one probe and one round of probes found, and why a state changed: shared by tracking, the daemon and its views.

/** One probe: one echo, connect, request or query to one target. */
export interface ProbeResult {
  target: string;
  ok: boolean;
  rttMs: number | null;
  /** Why it failed (timeout, "Destination Host Unreachable", ECONNREFUSED, HTTP 503, ...). */
  error: string | null;
}

export interface RoundSummary {
  at: number;
  ok: boolean;
  /** Targets with at least one answer. */
  answered: number;
  /** Over the quality window (or this round without quality). */
  lossPct: number;
  rttMs: number | null;
  /** Set when the probes answered but the round failed a quality threshold. */
  quality: string | null;
  results: ProbeResult[];
}

export type Reason = 'start' | 'probes' | 'carrier' | 'operator';
