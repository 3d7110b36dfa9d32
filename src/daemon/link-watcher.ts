// The link watcher: `ip monitor` events and a poll timer make the links be read again; each read reports every WAN's carrier.
import type { ResolvedConfig } from '../config/resolved.js';
import { readUsability, type Usability } from '../engine/links.js';
import type { Logger } from '../model/logger.js';
import { ChangeMonitor, ipMonitor, type MonitorStarter } from '../system/monitor.js';
import type { Runner } from '../system/runner.js';

export interface LinkWatcherOptions {
  run: Runner;
  /** Starts the change monitor (default: `ip -o monitor link address route rule`), or false for none (polls only). */
  monitor?: MonitorStarter | false | undefined;
  pollS: number;
  config(): ResolvedConfig;
  /** A read's verdict per WAN. */
  onCarrier(name: string, up: boolean): void;
  /** The main table's specific routes changed (the bypass set must follow), or an "auto" gateway's next hop did: re-apply. */
  onBypassChange(): void;
  /** Every poll (the daemon also looks for a decided try then). */
  onPoll(): void;
  /** An ip rule or a route in a table other than main was deleted, or events were lost: the routing may need repair. */
  onRoutingLoss?(): void;
  log: Pick<Logger, 'info' | 'warn'>;
  read?: (run: Runner, config: ResolvedConfig) => Promise<Usability>;
  /** Delay gathering a burst of events into one read. */
  gatherMs?: number;
}

/**
 * Whether an `ip -o monitor` line reports a deleted ip rule or a deleted route of a table other than main/local
 * (nft-mwan's per-WAN tables): someone may have removed nft-mwan's routing. Its own removals match too; the
 * apply they cause finds nothing to do.
 */
export function routingLoss(line: string): boolean {
  const l = line.replace(/^\[[A-Z]+\]\s*/, '');
  if (!l.startsWith('Deleted ')) return false;
  if (/^Deleted \d+:\s/.test(l)) return true;
  const table = / table (\S+)/.exec(l)?.[1];
  return table !== undefined && table !== 'main' && table !== 'local';
}

export class LinkWatcher {
  /** ip monitor: changes to links, addresses, routes and ip rules; null without it. */
  readonly ipChanges: ChangeMonitor | null;
  private pollTimer: NodeJS.Timeout | null = null;
  private queued = false;
  /** A deleted ip rule or route was heard: the daemon is told once the links have been read. */
  private lossPending = false;
  private stopped = false;
  /** The main table's specific routes and the "auto" next hops at the last read (null before the first). */
  private bypass: string | null = null;
  private gateways: string | null = null;

  constructor(private readonly o: LinkWatcherOptions) {
    // Every line ip monitor prints is a change; each makes the links be read again.
    this.ipChanges =
      o.monitor === false
        ? null
        : new ChangeMonitor(
            'ip monitor',
            o.monitor ?? ipMonitor,
            (m) => {
              o.log.warn(m);
            },
            (line) => {
              // Told after the read: a route deleted with its device must find that WAN down, not be put back.
              if (line === null || routingLoss(line)) this.lossPending = true;
              this.queueRead();
            },
          );
  }

  /** Per interface: can it carry traffic at all? */
  async read(): Promise<Map<string, boolean>> {
    const { usable, bypass, gateways } = await (this.o.read ?? readUsability)(this.o.run, this.o.config());
    // The bypass set's content: when a route comes or goes (a VPN, a static route), re-apply so new
    // connections to it are not balanced out through a WAN. An "auto" gateway's next hop that moved (a DHCP
    // renewal naming another router) must reach the WAN's table the same way.
    const routesChanged = this.bypass !== null && bypass !== this.bypass;
    const gatewaysChanged = this.gateways !== null && gateways !== this.gateways;
    if ((routesChanged || gatewaysChanged) && !this.stopped) {
      // Seen by a poll before (or without) the monitor's event: the ip state read before is stale.
      this.ipChanges?.changed();
      this.o.log.info(
        routesChanged
          ? "the main table's specific routes changed: re-applying so the bypass set follows"
          : `an "auto" gateway's next hop changed (${gateways}): re-applying so the WAN's table follows`,
      );
      this.o.onBypassChange();
    }
    this.gateways = gateways;
    this.bypass = bypass;
    return usable;
  }

  /**
   * The links as a reload to the config now given needs them: read at once when it starts trackers (a new one starts
   * from its link as it is now; the others follow theirs already), else none. A WAN moved to another device or
   * gateway is read again soon after, as after a link event.
   */
  async forReload(before: ResolvedConfig, startsTrackers: boolean): Promise<ReadonlyMap<string, boolean>> {
    if (linksMoved(before, this.o.config())) this.queueRead();
    return startsTrackers ? this.read() : new Map<string, boolean>();
  }

  start(): void {
    this.ipChanges?.start();
    // Polling as well: a missed netlink event must not leave a dead link in service for long.
    this.pollTimer = setInterval(() => {
      this.queueRead();
      this.o.onPoll();
    }, this.o.pollS * 1000);
  }

  stop(): void {
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.ipChanges?.stop();
  }

  /** A read soon, one for a burst of events. */
  queueRead(): void {
    if (this.queued || this.stopped) return;
    this.queued = true;
    setTimeout(() => {
      this.queued = false;
      // Stopped while it gathered: nothing is read any more.
      if (this.stopped) return;
      const loss = this.lossPending;
      this.lossPending = false;
      this.read()
        .then(
          (usable) => {
            for (const [name, up] of usable) this.o.onCarrier(name, up);
          },
          (e: unknown) => {
            this.o.log.warn(`cannot read links: ${(e as Error).message}`);
          },
        )
        .finally(() => {
          if (loss && !this.stopped) this.o.onRoutingLoss?.();
        });
    }, this.o.gatherMs ?? 20);
  }
}

/** Whether an interface of both configs names another device or gateway in `after`. */
function linksMoved(before: ResolvedConfig, after: ResolvedConfig): boolean {
  const where = (i: ResolvedConfig['interfaces'][string]) => `${i.device} ${i.gateway ?? ''} ${i.gateway6 ?? ''}`;
  return Object.entries(after.interfaces).some(([name, i]) => {
    const b = before.interfaces[name];
    return b !== undefined && where(b) !== where(i);
  });
}
