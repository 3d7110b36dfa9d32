// The WANs' trackers and the states last recorded for them: events in, the state changes (transitions) out. No I/O.
import type { ResolvedConfig, TrackSettings } from '../config/resolved.js';
import type { LinkState, LinkStates } from '../model/facts.js';
import type { Family } from '../model/names.js';
import type { DaemonState } from '../model/state.js';
import type { Reason } from '../model/tracking.js';
import { initialTracker, linkState, progress, step, type TrackEvent, type Tracker } from '../track/machine.js';
import type { Transition } from './ledger.js';
import { interfaceRecord } from './state-file.js';
import { key6, ofKey, type FamilyOf } from '../model/tracker-keys.js';

/**
 * Trackers by key (see tracker-keys.ts): one per interface, and a second, NAME/ipv6, for an interface with track6,
 * whose IPv6 state is then its own.
 */
export class WanTrackers {
  private readonly trackers = new Map<string, Tracker>();
  private readonly settings = new Map<string, TrackSettings | null>();
  /** The family each tracker decides for when its interface keeps a state per family. */
  /** The state compile was last told per tracker, and since when it holds. */
  private readonly states = new Map<string, { state: LinkState; since: number }>();
  /** State changes per tracker since the daemon started (a metric). */
  private readonly changes = new Map<string, number>();

  /**
   * Makes `config` the one tracked: trackers for new interfaces (from what a previous daemon recorded, else
   * their initialState), none for removed ones. `usable`: which links can carry traffic now.
   */
  adopt(config: ResolvedConfig, usable: ReadonlyMap<string, boolean>, now: number, previous?: DaemonState['interfaces']): void {
    const wanted = wantedTrackers(config);
    for (const key of [...this.trackers.keys()]) {
      if (wanted.has(key)) continue;
      this.trackers.delete(key);
      this.states.delete(key);
      this.settings.delete(key);
    }
    for (const [key, w] of wanted) {
      this.settings.set(key, w.track);
      if (this.trackers.has(key)) continue;
      const iface = config.interfaces[w.name] as ResolvedConfig['interfaces'][string];
      const before = w.family === 'ipv6' ? previous?.[w.name]?.ipv6 : previous?.[w.name];
      this.trackers.set(key, initialTracker(before?.tracked ?? iface.initialState, usable.get(w.name) ?? false, now, before?.forcedDown ?? false));
    }
  }

  /** Whether adopting `config` starts a tracker (a WAN, or a family tracked apart, new here): only those need the links as they are now. */
  startsTrackers(config: ResolvedConfig): boolean {
    return [...wantedTrackers(config).keys()].some((key) => !this.trackers.has(key));
  }

  /** The keys of an interface's trackers: carrier and operator events concern each. */
  keysOf(name: string): string[] {
    return [name, key6(name)].filter((k) => this.trackers.has(k));
  }

  has(name: string): boolean {
    return this.trackers.has(name);
  }

  /** The interfaces tracked (not their per-family keys). */
  names(): string[] {
    return [...this.trackers.keys()].filter((k) => ofKey(k).family === undefined);
  }

  tracker(name: string): Tracker | undefined {
    return this.trackers.get(name);
  }

  /** The WANs probed: those with track settings, enabled. */
  tracked(config: ResolvedConfig): [string, TrackSettings][] {
    return [...this.settings].flatMap(([key, s]): [string, TrackSettings][] =>
      s === null || config.interfaces[ofKey(key).name]?.enabled === false ? [] : [[key, s]],
    );
  }

  /** One event for one tracker (by key): the tracker before and after, and the connecting/disconnecting step it made, if any. */
  step(name: string, e: TrackEvent): { before: Tracker; after: Tracker; between: Transition | null } | null {
    const before = this.trackers.get(name);
    if (!before) return null;
    const after = step(before, this.settings.get(name) ?? null, e);
    this.trackers.set(name, after);
    const action = e.type === 'round' ? progress(before, after) : null;
    return { before, after, between: action ? betweenTransition(this.who(name), action, after) : null };
  }

  /** Compares every tracker's state with the last one recorded: the changes (a first recording is no change). */
  refresh(reason: Reason, now: number): { recorded: boolean; transitions: Transition[] } {
    let recorded = false;
    const transitions: Transition[] = [];
    for (const [key, t] of this.trackers) {
      const state = linkState(t);
      const before = this.states.get(key);
      if (before?.state === state) continue;
      this.states.set(key, { state, since: now });
      recorded = true;
      if (before === undefined) continue;
      const why = t.forcedDown && state !== 'down' ? 'operator' : t.lastReason === 'start' ? reason : t.lastReason;
      this.changes.set(key, (this.changes.get(key) ?? 0) + 1);
      transitions.push({ ...this.who(key), from: before.state, to: state, reason: why, detail: describe(why, t) });
    }
    return { recorded, transitions };
  }

  /** The state recorded for one tracker (an interface's own by its name). */
  state(key: string): LinkState | undefined {
    return this.states.get(key)?.state;
  }

  /** The interface and, when it keeps a state per family, the family a tracker decides for. */
  private who(key: string): FamilyOf {
    const { name, family } = ofKey(key);
    // An interface's own tracker decides for IPv4 alone when an IPv6 one (track6) sits beside it.
    const decides = family ?? (this.trackers.has(key6(name)) ? 'ipv4' : undefined);
    return { name, ...(decides ? { family: decides } : {}) };
  }

  /** The states recorded, as compile takes them: per interface, or per family for one with track6. */
  linkStates(): LinkStates {
    const out: Record<string, LinkStates[string]> = {};
    for (const [key, s] of this.states) {
      if (ofKey(key).family !== undefined) continue;
      const v6 = this.states.get(key6(key));
      out[key] = v6 === undefined ? s.state : { ipv4: s.state, ipv6: v6.state };
    }
    return out;
  }

  /** What each tracker says now (before it is recorded). */
  live(): Record<string, LinkState> {
    return Object.fromEntries([...this.trackers].map(([n, t]) => [n, linkState(t)]));
  }

  /** The states recorded per tracker (what the next apply installs). */
  current(): Record<string, LinkState> {
    return Object.fromEntries([...this.states].map(([n, s]) => [n, s.state]));
  }

  /** Every tracker's state as one log line: `wan1=online wan2/ipv6=offline`. */
  summary(): string {
    return [...this.states].map(([n, s]) => `${n}=${s.state}`).join(' ');
  }

  stateChanges(): Record<string, number> {
    return Object.fromEntries(this.changes);
  }

  /** The state file's view of every WAN. */
  records(): DaemonState['interfaces'] {
    const out: DaemonState['interfaces'] = {};
    const record = (key: string, t: Tracker) => {
      const s = this.states.get(key) ?? { state: linkState(t), since: t.since };
      return interfaceRecord(t, s.state, s.since, this.settings.get(key) != null);
    };
    for (const [key, t] of this.trackers) {
      if (ofKey(key).family !== undefined) continue;
      const t6 = this.trackers.get(key6(key));
      out[key] = { ...record(key, t), ...(t6 ? { ipv6: record(key6(key), t6) } : {}) };
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
function betweenTransition(who: FamilyOf, action: 'connecting' | 'disconnecting', t: Tracker): Transition {
  const state = linkState(t);
  const r = t.lastRound?.results.find((p) => !p.ok);
  const detail =
    action === 'connecting' ? 'first good probe round' : `first failed probe round: ${t.lastRound?.quality ?? `${r?.target ?? '?'} ${r?.error ?? ''}`.trim()}`;
  return { ...who, from: state, to: state, reason: 'probes', detail, action };
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

/** One tracker a config asks for: the interface, its settings, and the family it tracks apart (track6), if any. */
interface WantedTracker {
  name: string;
  track: TrackSettings | null;
  family: Family | undefined;
}

/** The trackers `config` asks for, by key: one per interface, and one for IPv6 where it has track6. */
function wantedTrackers(config: ResolvedConfig): Map<string, WantedTracker> {
  const wanted = new Map<string, WantedTracker>();
  for (const [name, iface] of Object.entries(config.interfaces)) {
    const split = iface.track6 !== null;
    wanted.set(name, { name, track: iface.track, family: split ? 'ipv4' : undefined });
    if (split) wanted.set(key6(name), { name, track: iface.track6, family: 'ipv6' });
  }
  return wanted;
}
