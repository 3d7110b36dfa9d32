// The apply queue: one apply at a time, as many as were asked for, retried with growing waits, held while an `apply --try` is pending.
import type { Logger } from '../model/logger.js';

export const BACKOFF_MS = [250, 500, 1_000, 2_000, 5_000, 10_000] as const;

export interface ApplyQueueOptions {
  /** One apply; throws when it failed (nothing changed). */
  attempt(): Promise<void>;
  /** Why applies must wait now (an operator's pending try), or null. */
  hold(): Promise<string | null>;
  /** The hold is over: runs before the next attempt. */
  released(): Promise<void>;
  /** An attempt failed; the next one follows in `waitMs`. */
  failed(error: Error, attempt: number, waitMs: number): void;
  /** No apply owed any more (or stopping). */
  idle(): void;
  log: Pick<Logger, 'info' | 'warn'>;
  sleep?: (ms: number) => Promise<void>;
  /** How often a hold is looked at again. */
  holdPollMs?: number;
}

export class ApplyQueue {
  /** Generations: each request makes one; an attempt covers every request made before it started. */
  private wanted = 0;
  private done = 0;
  private running: Promise<void> | null = null;
  private waiters: { gen: number; resolve: () => void }[] = [];
  private failures = 0;
  private held = false;
  private stopped = false;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly o: ApplyQueueOptions) {
    this.sleep = o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** Asks for an apply that starts after now; returns its generation. */
  request(): number {
    const gen = ++this.wanted;
    if (!this.running) this.running = this.loop().finally(() => (this.running = null));
    return gen;
  }

  /** Resolves once an apply that started after this call has succeeded. */
  requestAndWait(): Promise<void> {
    const gen = this.request();
    if (this.done >= gen) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ gen, resolve }));
  }

  /** No new attempt starts; resolves once the running one (with its wait) is over. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running?.catch(() => undefined);
  }

  private async loop(): Promise<void> {
    while (this.done < this.wanted && !this.stopped) {
      // An operator's `apply --try` is pending: its rollback must find exactly what it left.
      const hold = await this.o.hold();
      if (hold !== null) {
        if (!this.held) this.o.log.warn(`${hold}: re-applies wait until it is confirmed or rolled back`);
        this.held = true;
        await this.sleep(this.o.holdPollMs ?? 200);
        continue;
      }
      if (this.held) {
        this.o.log.info('the try is decided: re-applies resume');
        await this.o.released();
      }
      this.held = false;
      const gen = this.wanted;
      try {
        await this.o.attempt();
        this.done = gen;
        this.failures = 0;
        this.waiters = this.waiters.filter((w) => (w.gen <= gen ? (w.resolve(), false) : true));
      } catch (e) {
        const wait = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)] as number;
        this.failures++;
        this.o.failed(e as Error, this.failures, wait);
        await this.sleep(wait);
      }
    }
    this.o.idle();
  }
}
