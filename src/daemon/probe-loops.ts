// The probe loops: one per tracked WAN, a probe run per round or long-running pings, woken when what they need changes.
import type { TrackSettings } from '../config/resolved.js';
import type { Logger } from '../model/logger.js';
import type { ProbeResult } from '../model/tracking.js';
import { nextInterval, type Tracker } from '../track/machine.js';
import { PingSession, type EchoResult } from '../track/ping-session.js';
import { parseTarget } from '../model/targets.js';
import { roundWith, type Egress, type Prober, type RoundDeps } from '../track/probes.js';
import { systemLookup } from '../track/resolve.js';
import { ofKey } from '../model/tracker-keys.js';

export interface ProbeLoopsOptions {
  /** A probe run per round; without it, the real one, with one long-running ping per target where it can. */
  prober?: Prober | undefined;
  /** The WAN's tracker now (its interval and carrier decide when, and whether, to probe). */
  tracker(name: string): Tracker | undefined;
  /** One round's verdicts. */
  onRound(name: string, results: ProbeResult[]): void;
  log: Pick<Logger, 'warn'>;
  /** Keeps tcp/http/dns probes to a host name's address on their WAN (the table's probe-pair set). */
  allowPairs?: RoundDeps['allowPairs'];
}

export class ProbeLoops {
  private readonly loops = new Map<string, AbortController>();
  private readonly egress = new Map<string, Egress>();
  /** Cuts a probe loop's wait short (after a carrier change) so it re-reads its interval. */
  private readonly wakers = new Map<string, () => void>();
  /** Re-checks a continuous ping's processes (after a carrier change or an apply). */
  private readonly syncers = new Map<string, () => void>();

  private readonly round: Prober;

  constructor(private readonly o: ProbeLoopsOptions) {
    this.round = o.prober ?? roundWith({ lookup: systemLookup, allowPairs: o.allowPairs });
  }

  /** Stops every loop and starts one per tracker with settings (NAME, and NAME/ipv6 for a WAN with track6). */
  restart(settings: Iterable<[string, TrackSettings]>): void {
    this.stop();
    for (const [name, s] of settings) {
      const ac = new AbortController();
      this.loops.set(name, ac);
      // One echo per round with ping: long-running ping processes; anything else: a probe run per round. A host
      // name too: a long-running ping would resolve it once, and names are looked up again at every round.
      const names = s.targets.some((t) => {
        const target = parseTarget(s.method, t);
        return !('error' in target) && target.name;
      });
      if (this.o.prober === undefined && s.method === 'ping' && s.count === 1 && !names) this.continuousPing(name, s, ac.signal);
      else void this.probeLoop(name, s, ac.signal);
    }
  }

  stop(): void {
    for (const ac of this.loops.values()) ac.abort();
    this.loops.clear();
  }

  /** The WANs' devices and marks as the last apply installed them: probes start or follow. */
  follow(interfaces: Iterable<{ name: string } & Egress>): void {
    for (const i of interfaces) this.egress.set(i.name, { device: i.device, mark: i.mark, address: i.address, address6: i.address6 ?? null });
    for (const sync of this.syncers.values()) sync();
  }

  /** The WAN's tracker changed outside a round (carrier, operator): its loop re-reads interval and carrier now. */
  wake(name: string): void {
    this.wakers.get(name)?.();
    this.syncers.get(name)?.();
  }

  /**
   * Rounds from one long-running ping per target: a round is one verdict per target. The processes are
   * started again whenever what they need changes (the interval for the state, the WAN's device or mark)
   * and stopped while the link is down.
   */
  private continuousPing(name: string, s: TrackSettings, signal: AbortSignal): void {
    let sessions: PingSession[] = [];
    let queues: EchoResult[][] = [];
    let current = '';
    const sync = () => {
      const t = this.o.tracker(name);
      const e = this.egress.get(ofKey(name).name);
      const interval = t ? nextInterval(t, s) : s.interval;
      const key = !signal.aborted && t?.carrier && e ? `${e.device}/${e.mark}/${interval}` : '';
      if (key === current) return;
      for (const x of sessions) x.stop();
      sessions = [];
      current = key;
      if (key === '' || !e) return;
      queues = s.targets.map(() => []);
      sessions = s.targets.map(
        (target, i) =>
          new PingSession(target, e, interval, s.timeout, (_gen, _seq, r) => {
            queues[i]?.push(r);
            if (!queues.every((q) => q.length > 0)) return;
            this.o.onRound(
              name,
              queues.map((q, j) => ({ target: s.targets[j] as string, ...(q.shift() as EchoResult) })),
            );
            sync();
          }),
      );
      for (const x of sessions) x.start();
    };
    this.syncers.set(name, sync);
    signal.addEventListener('abort', () => {
      this.syncers.delete(name);
      sync();
    });
    sync();
  }

  private async probeLoop(name: string, s: TrackSettings, signal: AbortSignal): Promise<void> {
    const prober = this.round;
    while (!signal.aborted) {
      const started = performance.now();
      const t = this.o.tracker(name);
      const egress = this.egress.get(ofKey(name).name);
      if (t && egress && t.carrier) {
        try {
          const results = await prober(s, egress, signal);
          if (aborted(signal)) return;
          this.o.onRound(name, results);
        } catch (e) {
          this.o.log.warn(`${name}: probe round failed to run: ${(e as Error).message}`);
        }
      }
      // Re-evaluated on every wake-up: a state change (carrier back, say) can shorten the wait.
      for (;;) {
        const tracker = this.o.tracker(name);
        const interval = tracker ? nextInterval(tracker, s) : s.interval;
        const wait = interval * 1000 - (performance.now() - started);
        if (wait <= 0 || aborted(signal)) break;
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer);
            signal.removeEventListener('abort', wake);
            this.wakers.delete(name);
            resolve();
          };
          const timer = setTimeout(wake, wait);
          signal.addEventListener('abort', wake);
          this.wakers.set(name, wake);
        });
      }
    }
  }
}

/** Read afresh after an await: TypeScript would keep the narrowing of the loop's own check. */
function aborted(signal: AbortSignal): boolean {
  return signal.aborted;
}
