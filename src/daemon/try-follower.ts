// Follows an `apply --try` decided since the last look, even one whose process is gone: after a confirm the daemon runs the tried config.
import { resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import type { ResolvedConfig } from '../config/resolved.js';
import { configHash, readTryOutcome } from '../engine/trial.js';
import type { Logger } from '../model/logger.js';

export interface TryFollowerOptions {
  stateDir: string;
  configPath: string;
  /** The config running now. */
  config(): ResolvedConfig;
  /** Takes up the tried config (after a confirm). */
  adopt(config: ResolvedConfig): Promise<void>;
  log: Pick<Logger, 'info' | 'warn'>;
}

export class TryFollower {
  /** When the last try outcome followed was decided (ms); older ones were before this daemon's time. */
  private seen = 0;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly o: TryFollowerOptions) {}

  /** At start: outcomes decided before now are history. */
  async init(): Promise<void> {
    this.seen = (await readTryOutcome(this.o.stateDir))?.at ?? 0;
  }

  stop(): void {
    this.stopped = true;
  }

  /** One look at a time; after a rollback the daemon keeps its previous config (in memory). */
  follow(): Promise<void> {
    this.chain = this.chain
      .then(() => this.once())
      .catch((e: unknown) => {
        this.o.log.warn(`following the try: ${(e as Error).message}`);
      });
    return this.chain;
  }

  private async once(): Promise<void> {
    if (this.stopped) return;
    const o = await readTryOutcome(this.o.stateDir);
    if (o === null || o.at <= this.seen || o.configPath !== resolve(this.o.configPath)) return;
    this.seen = o.at;
    if (o.outcome === 'rollback') {
      this.o.log.warn(
        `the try of ${o.configPath} was rolled back: the daemon keeps running its previous config (in memory); the file on disk is the rejected one, and a reload or restart would take it up`,
      );
      return;
    }
    if (configHash(this.o.config()) === o.configHash) return;
    const loaded = await loadConfig(this.o.configPath);
    const config = loaded.ok ? loaded.config : null;
    if (config === null || configHash(config) !== o.configHash) {
      this.o.log.warn(
        `the try of ${o.configPath} was confirmed, but the file no longer holds the config tried: keeping the running config; reload to take the file up`,
      );
      return;
    }
    this.o.log.info(`the try of ${o.configPath} was confirmed: the daemon takes that config up`);
    await this.o.adopt(config);
  }
}
