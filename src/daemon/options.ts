// What the daemon is started with: its files, its runner and logger, and the stand-ins unit tests pass.
import type { Logger } from '../model/logger.js';
import type { MonitorStarter } from '../system/monitor.js';
import type { Runner } from '../system/runner.js';
import type { Prober } from '../track/probes.js';

export interface DaemonOptions {
  configPath: string;
  stateDir: string;
  run: Runner;
  log: Logger;
  /** Replaceable in unit tests; the real one pings and connects. */
  prober?: Prober;
  /** Remove nft-mwan's table, rules and routes on exit (default: leave them, so forwarding goes on). */
  stopOnExit?: boolean;
  /** Seconds between link polls, on top of `ip monitor` events. */
  linkPollS?: number;
  /**
   * Starts the change monitor (default: `ip -o monitor link address route rule`); unit tests pass a stand-in,
   * or false for none (they change links through the runner, read by the polls).
   */
  monitor?: MonitorStarter | false;
  /**
   * Starts the commit monitor (default: `nft monitor`), or false for none: then every apply reads the whole
   * table back after its transaction, once nft has exited.
   */
  nftMonitor?: MonitorStarter | false;
}
