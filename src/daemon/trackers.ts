// The WANs' trackers and the states last recorded for them: events in, the state changes (transitions) out. No I/O.
import type { ResolvedConfig, TrackSettings } from '../config/resolved.js';
import type { LinkState } from '../model/facts.js';
import type { DaemonState } from '../model/state.js';
import type { Reason } from '../model/tracking.js';
import { initialTracker, linkState, progress, step, type TrackEvent, type Tracker } from '../track/machine.js';
import type { Transition } from './ledger.js';
import { interfaceRecord } from './state-file.js';

export class WanTrackers {
  private readonly trackers = new Map<string, Tracker>();
  private readonly settings = new Map<string, TrackSettings | null>();
  /** The state compile was last told per interface, and since when it holds. */
  private readonly states = new Map<string, { state: LinkState; since: number }>();
  /** State changes per interface since the daemon started (a metric). */
  private readonly changes = new Map<string, number>();

  /**
   * Makes `config` the one tracked: trackers for new interfaces (from what a previous daemon recorded, else
   * their initialState), none for removed ones. `usable`: which links can carry traffic now.
   */
  adopt(config: ResolvedConfig, usable: ReadonlyMap<string, boolean>, now: number, previous?: DaemonState['interfaces']): void {
    for (const name of [...this.trackers.keys()]) {
      if (name in config.interfaces) continue;
      this.trackers.delete(name);
      this.states.delete(name);
      this.settings.delete(name);
    }
    for (const [name, iface] of Object.entries(config.interfaces)) {
      this.settings.set(name, iface.track);
      if (this.trackers.has(name)) continue;
      const before = previous?.[name];
      this.trackers.set(name, initialTracker(before?.tracked ?? iface.initialState, usable.get(name) ?? false, now, before?.forcedDown ?? false));
    }
  }

  has(name: string): boolean {
    return this.trackers.has(name);
  }

  names(): string[] {
    return [...this.trackers.keys()];
  }

  tracker(name: string): Tracker | undefined {
    return this.trackers.get(name);
  }

  /** The WANs probed: those with track settings, enabled. */
  tracked(config: ResolvedConfig): [string, TrackSettings][] {
    return [...this.settings].flatMap(([name, s]): [string, TrackSettings][] => (s === null || config.interfaces[name]?.enabled === false ? [] : [[name, s]]));
  }

  /** One event for one WAN: the tracker before and after, and the connecting/disconnecting step it made, if any. */
  step(name: string, e: TrackEvent): { before: Tracker; after: Tracker; between: Transition | null } | null {
    const before = this.trackers.get(name);
    if (!before) return null;
    const after = step(before, this.settings.get(name) ?? null, e);
    this.trackers.set(name, after);
    const action = e.type === 'round' ? progress(before, after) : null;
    return { before, after, between: action ? betweenTransition(name, action, after) : null };
  }

  /** Compares every tracker's state with the last one recorded: the changes (a first recording is no change). */
  refresh(reason: Reason, now: number): { recorded: boolean; transitions: Transition[] } {
    let recorded = false;
    const transitions: Transition[] = [];
    for (const [name, t] of this.trackers) {
      const state = linkState(t);
      const before = this.states.get(name);
      if (before?.state === state) continue;
      this.states.set(name, { state, since: now });
      recorded = true;
      if (before === undefined) continue;
      const why = t.forcedDown && state !== 'down' ? 'operator' : t.lastReason === 'start' ? reason : t.lastReason;
      this.changes.set(name, (this.changes.get(name) ?? 0) + 1);
      transitions.push({ name, from: before.state, to: state, reason: why, detail: describe(why, t) });
    }
    return { recorded, transitions };
  }

  /** The state recorded for one WAN. */
  state(name: string): LinkState | undefined {
    return this.states.get(name)?.state;
  }

  /** What each tracker says now (before it is recorded). */
  live(): Record<string, LinkState> {
    return Object.fromEntries([...this.trackers].map(([n, t]) => [n, linkState(t)]));
  }

  /** The states recorded (what the next apply installs). */
  current(): Record<string, LinkState> {
    return Object.fromEntries([...this.states].map(([n, s]) => [n, s.state]));
  }

  stateChanges(): Record<string, number> {
    return Object.fromEntries(this.changes);
  }

  /** The state file's view of every WAN. */
  records(): DaemonState['interfaces'] {
    const out: DaemonState['interfaces'] = {};
    for (const [name, t] of this.trackers) {
      const s = this.states.get(name) ?? { state: linkState(t), since: t.since };
      out[name] = interfaceRecord(t, s.state, s.since, this.settings.get(name) != null);
    }
    return out;
  }
}

/** What a failed last round says (a debug line), or null when it did not fail. */
export function roundFailure(t: Tracker): string | null {
  const r = t.lastRound;
  if (!r || r.ok) return null;
  const failed = r.results.filter((p) => !p.ok).map((p) => `${p.target}: ${p.error ?? 'failed'}`);
  return `round failed (${t.state === 'online' ? `${t.fails} in a row` : 'offline'}): ${r.quality ?? failed.slice(0, 3).join(', ')}`;
}

/** No rule changes: mwan3's connecting/disconnecting, with what the round said. */
function betweenTransition(name: string, action: 'connecting' | 'disconnecting', t: Tracker): Transition {
  const state = linkState(t);
  const r = t.lastRound?.results.find((p) => !p.ok);
  const detail =
    action === 'connecting' ? 'first good probe round' : `first failed probe round: ${t.lastRound?.quality ?? `${r?.target ?? '?'} ${r?.error ?? ''}`.trim()}`;
  return { name, from: state, to: state, reason: 'probes', detail, action };
}

export function describe(reason: Reason, t: Tracker): string {
  switch (reason) {
    case 'carrier':
      return t.carrier ? 'link back; waiting for good probe rounds' : 'link down, device gone or no gateway';
    case 'operator':
      return t.forcedDown ? 'ifdown by operator' : 'ifup by operator';
    case 'probes': {
      const r = t.lastRound;
      if (!r) return 'probes';
      if (t.state === 'online') return `probes answered (rtt ${r.rttMs?.toFixed(1) ?? '-'} ms, loss ${r.lossPct.toFixed(0)}%)`;
      const failed = r.results.find((p) => !p.ok);
      return `probes failing: ${r.quality ?? `${failed?.target ?? '?'} ${failed?.error ?? ''}`.trim()}`;
    }
    case 'start':
      return 'start';
  }
}
