// When the trackers decided the state changes an apply installs: the time from that decision to the verified table.

/** Holds the time of the oldest state change not yet taken by an apply. */
export class DecisionClock {
  private decidedAt: number | null = null;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** A state change was decided; the oldest one still waiting keeps its time. */
  decided(): void {
    this.decidedAt ??= this.now();
  }

  /** An apply starts with what was decided so far: its time (null when none), and the clock starts afresh. */
  take(): number | null {
    const t = this.decidedAt;
    this.decidedAt = null;
    return t;
  }

  /** The apply failed: its decision is owed again, and older than any made meanwhile. */
  putBack(t: number | null): void {
    if (t !== null) this.decidedAt = this.decidedAt === null ? t : Math.min(t, this.decidedAt);
  }

  /** The log's suffix for an apply that took `t`: ", N ms after the state change" (nothing when no state change was taken). */
  since(t: number | null): string {
    return t === null ? '' : `, ${(this.now() - t).toFixed(1)} ms after the state change`;
  }
}
