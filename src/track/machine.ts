// The tracking state machine of one WAN: probe rounds, carrier and operator commands in, state out. Pure.
import type { LinkState } from '../model/facts.js';
import type { TrackSettings } from '../config/resolved.js';
import type { ProbeResult, Reason, RoundSummary } from '../model/tracking.js';

export interface Tracker {
  /** What the probes (and carrier) say, regardless of any operator command. */
  state: 'online' | 'offline';
  /** Time (ms) `state` was entered. */
  since: number;
  carrier: boolean;
  /** `nft-mwan ifdown`: out of service until `ifup`, whatever the probes say. */
  forcedDown: boolean;
  /** Failed rounds in a row while online; good rounds in a row while offline. */
  fails: number;
  goods: number;
  /** Recent probes per target (the last `quality.window` of each; this round's alone without quality). */
  windows: Readonly<Record<string, readonly Sample[]>>;
  lastRound: RoundSummary | null;
  lastReason: Reason;
}

export type TrackEvent =
  { type: 'round'; at: number; results: readonly ProbeResult[] } | { type: 'carrier'; at: number; up: boolean } | { type: 'force'; at: number; down: boolean };

export function initialTracker(initial: 'online' | 'offline', carrier: boolean, at: number, forcedDown = false): Tracker {
  return {
    state: carrier ? initial : 'offline',
    since: at,
    carrier,
    forcedDown,
    fails: 0,
    goods: 0,
    windows: {},
    lastRound: null,
    lastReason: 'start',
  };
}

/** What compile is told: in service, out of service, or out with no usable device. */
export function linkState(t: Tracker): LinkState {
  if (!t.carrier) return 'down';
  return t.state === 'online' && !t.forcedDown ? 'online' : 'offline';
}

/** Seconds until the next round should start, counted from the start of the last one. */
export function nextInterval(t: Tracker, s: TrackSettings): number {
  if (t.state === 'offline') return s.recoveryInterval;
  return t.fails > 0 ? s.failureInterval : s.interval;
}

export function step(t: Tracker, s: TrackSettings | null, e: TrackEvent): Tracker {
  switch (e.type) {
    case 'carrier': {
      if (e.up === t.carrier) return t;
      if (!e.up) return { ...t, carrier: false, ...enter('offline', e.at, 'carrier') };
      // Carrier back: untracked links are online at once; tracked ones must earn it with `up` good rounds.
      return { ...t, carrier: true, ...enter(s === null ? 'online' : 'offline', e.at, 'carrier') };
    }
    case 'force':
      return e.down === t.forcedDown ? t : { ...t, forcedDown: e.down, lastReason: 'operator' };
    case 'round':
      return s === null ? t : round(t, s, e.at, e.results);
  }
}

function enter(state: 'online' | 'offline', at: number, reason: Reason): Partial<Tracker> {
  // A fresh window: every decision after a change is made on probes taken after it.
  return { state, since: at, fails: 0, goods: 0, windows: {}, lastReason: reason };
}

/** One probe as the quality window keeps it. */
export interface Sample {
  ok: boolean;
  rttMs: number | null;
}

/** Loss (%) and average RTT of the answered probes in a list of samples. */
function measure(samples: readonly Sample[]): { lossPct: number; rttMs: number | null } {
  const lost = samples.filter((w) => !w.ok).length;
  const rtts = samples.flatMap((w) => (w.ok && w.rttMs !== null ? [w.rttMs] : []));
  return {
    lossPct: samples.length === 0 ? 100 : (100 * lost) / samples.length,
    rttMs: rtts.length === 0 ? null : rtts.reduce((a, b) => a + b, 0) / rtts.length,
  };
}

/**
 * One round. As mwan3 judges it, each target on its own: a target is good when it answered this round and, with
 * quality, its own recent probes meet the thresholds; the round is good when at least `reliability` targets are.
 * (Pooling the loss of all targets would let one dead target take a healthy WAN offline.)
 */
function round(t: Tracker, s: TrackSettings, at: number, results: readonly ProbeResult[]): Tracker {
  const byTarget = new Map<string, Sample[]>();
  for (const r of results) {
    const list = byTarget.get(r.target) ?? [];
    list.push({ ok: r.ok, rttMs: r.ok ? r.rttMs : null });
    byTarget.set(r.target, list);
  }
  // A target not probed this round (a round may stop once enough have answered) keeps what it had.
  const windows: Record<string, readonly Sample[]> = { ...t.windows };
  for (const [target, samples] of byTarget) windows[target] = s.quality ? [...(t.windows[target] ?? []), ...samples].slice(-s.quality.window) : samples;
  const answered = [...byTarget].filter(([, samples]) => samples.some((x) => x.ok)).map(([target]) => target);

  const q = s.quality;
  const [maxLoss, maxRtt] =
    q === null ? [100, Infinity] : t.state === 'online' ? [q.failureLossPct, q.failureLatencyMs] : [q.recoveryLossPct, q.recoveryLatencyMs];
  const failing: string[] = [];
  for (const target of answered) {
    const m = measure(windows[target] ?? []);
    const why =
      m.lossPct > maxLoss
        ? `loss ${m.lossPct.toFixed(0)}% > ${maxLoss}%`
        : m.rttMs !== null && m.rttMs > maxRtt
          ? `latency ${m.rttMs.toFixed(1)} ms > ${maxRtt} ms`
          : null;
    if (why !== null) failing.push(s.targets.length === 1 ? why : `${target} ${why}`);
  }
  const good = answered.length - failing.length;
  const reached = answered.length >= s.reliability;
  const ok = good >= s.reliability;
  // Said only when the probes answered but their quality failed the round.
  const quality = reached && !ok ? failing.join('; ') : null;
  // What status and metrics show: the WAN's loss and latency over every target's window.
  const { lossPct, rttMs } = measure(Object.values(windows).flat());
  const summary: RoundSummary = { at, ok, answered: answered.length, lossPct, rttMs, quality, results: [...results] };
  const next: Tracker = { ...t, windows, lastRound: summary };
  // Without carrier the probes cannot leave; their results are recorded but decide nothing.
  if (!t.carrier) return next;

  if (t.state === 'online') {
    const fails = ok ? 0 : t.fails + 1;
    if (fails >= s.down) return { ...next, ...enter('offline', at, 'probes'), lastRound: summary };
    return { ...next, fails };
  }
  const goods = ok ? t.goods + 1 : 0;
  if (goods >= s.up) return { ...next, ...enter('online', at, 'probes'), lastRound: summary };
  return { ...next, goods };
}

/**
 * mwan3's in-between states, which change no rule: the first failed round of a WAN in service
 * (disconnecting) and the first good round of one out of it (connecting). None when that very round
 * changes the state (then it is disconnected/connected), without carrier or while forced down.
 */
export function progress(before: Tracker, after: Tracker): 'connecting' | 'disconnecting' | null {
  if (!before.carrier || !after.carrier || after.forcedDown || before.state !== after.state) return null;
  if (after.state === 'online' && before.fails === 0 && after.fails === 1) return 'disconnecting';
  if (after.state === 'offline' && before.goods === 0 && after.goods === 1) return 'connecting';
  return null;
}
