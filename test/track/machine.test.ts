// The tracking state machine: down/up hysteresis, reliability, carrier, operator force, the quality window,
// round intervals and the defaults of `track`.
import { describe, expect, it } from 'vitest';
import { initialTracker, linkState, nextInterval, progress, step, type Tracker } from '../../src/track/machine.js';
import { trackSettings } from '../../src/config/normalize.js';
import type { TrackSettings } from '../../src/config/resolved.js';
import { type ProbeResult } from '../../src/model/tracking.js';
import type { Track } from '../../src/generated/config.js';

const A = '192.0.2.1';
const B = '192.0.2.2';
const C = '192.0.2.3';

function settings(track: Partial<Track> = {}): TrackSettings {
  const s = trackSettings({ device: 'wan1', track: { targets: [A], ...track } });
  if (s === null) throw new Error('a tracked interface must have settings');
  return s;
}

const ans = (target = A, rttMs = 10): ProbeResult => ({ target, ok: true, rttMs, error: null });
const miss = (target = A): ProbeResult => ({ target, ok: false, rttMs: null, error: 'no reply' });
const GOOD = [ans()];
const FAIL = [miss()];

let clock = 1_000;
const round = (t: Tracker, s: TrackSettings | null, results: ProbeResult[]) => step(t, s, { type: 'round', at: (clock += 1_000), results });
const rounds = (t: Tracker, s: TrackSettings | null, ...list: ProbeResult[][]) => list.reduce((acc, r) => round(acc, s, r), t);
const carrier = (t: Tracker, s: TrackSettings | null, up: boolean) => step(t, s, { type: 'carrier', at: (clock += 1_000), up });
const force = (t: Tracker, down: boolean) => step(t, null, { type: 'force', at: (clock += 1_000), down });
const online = () => initialTracker('online', true, 0);
const offline = () => initialTracker('offline', true, 0);

describe('probe rounds: down/up hysteresis', () => {
  it.each([1, 2, 3, 5])('goes offline only on the %s-th failed round in a row', (down) => {
    const s = settings({ down });
    let t = online();
    for (let i = 1; i < down; i++) {
      t = round(t, s, FAIL);
      expect(t.state).toBe('online');
      expect(t.fails).toBe(i);
    }
    t = round(t, s, FAIL);
    expect(t.state).toBe('offline');
    expect(linkState(t)).toBe('offline');
    expect(t.lastReason).toBe('probes');
    expect(t.since).toBe(clock);
    expect(t.fails).toBe(0);
  });

  it('a good round between failures starts the count again', () => {
    const s = settings({ down: 3 });
    let t = rounds(online(), s, FAIL, FAIL, GOOD);
    expect(t.fails).toBe(0);
    t = rounds(t, s, FAIL, FAIL);
    expect(t.state).toBe('online');
    expect(t.fails).toBe(2);
    t = round(t, s, FAIL);
    expect(t.state).toBe('offline');
  });

  it.each([1, 2, 3, 5])('comes back online only on the %s-th good round in a row', (up) => {
    const s = settings({ up });
    let t = offline();
    for (let i = 1; i < up; i++) {
      t = round(t, s, GOOD);
      expect(t.state).toBe('offline');
      expect(t.goods).toBe(i);
    }
    t = round(t, s, GOOD);
    expect(t.state).toBe('online');
    expect(linkState(t)).toBe('online');
    expect(t.lastReason).toBe('probes');
    expect(t.goods).toBe(0);
  });

  it('a failed round while recovering starts the count again', () => {
    const s = settings({ up: 3 });
    let t = rounds(offline(), s, GOOD, GOOD, FAIL);
    expect(t.goods).toBe(0);
    t = rounds(t, s, GOOD, GOOD);
    expect(t.state).toBe('offline');
    t = round(t, s, GOOD);
    expect(t.state).toBe('online');
  });

  it('good rounds while online and failed rounds while offline change nothing', () => {
    const s = settings({ down: 1, up: 1 });
    const on = rounds(online(), s, GOOD, GOOD, GOOD);
    expect([on.state, on.fails, on.goods]).toEqual(['online', 0, 0]);
    const off = rounds(offline(), s, FAIL, FAIL, FAIL);
    expect([off.state, off.fails, off.goods]).toEqual(['offline', 0, 0]);
  });

  it('keeps the last round summary, also on the round that changes the state', () => {
    const s = settings({ down: 1 });
    const t = round(online(), s, [miss()]);
    expect(t.state).toBe('offline');
    expect(t.lastRound).toMatchObject({ at: clock, ok: false, answered: 0, lossPct: 100, rttMs: null, quality: null });
    expect(t.lastRound?.results).toEqual([miss()]);
  });

  it('ignores rounds of an untracked interface', () => {
    const t = online();
    expect(round(t, null, FAIL)).toBe(t);
  });
});

describe('reliability', () => {
  const three = { targets: [A, B, C] as Track['targets'], reliability: 2 };

  it.each<[string, ProbeResult[], number, boolean]>([
    ['one of three answers', [ans(A), miss(B), miss(C)], 1, false],
    ['two of three answer', [ans(A), ans(B), miss(C)], 2, true],
    ['all three answer', [ans(A), ans(B), ans(C)], 3, true],
    // count 3: a target that answers at all counts once, however many of its echoes came back.
    ['one target answers three times, the others never', [ans(A), ans(A), ans(A), miss(B), miss(B), miss(B), miss(C), miss(C), miss(C)], 1, false],
    ['two targets answer once each out of three', [miss(A), miss(A), ans(A), ans(B), miss(B), miss(B), miss(C), miss(C), miss(C)], 2, true],
  ])('2 of 3 targets: %s', (_what, results, answered, ok) => {
    const s = settings({ ...three, count: 3, down: 1 });
    const t = round(online(), s, results);
    expect(t.lastRound?.answered).toBe(answered);
    expect(t.lastRound?.ok).toBe(ok);
    expect(t.state).toBe(ok ? 'online' : 'offline');
  });

  it('is capped at the number of targets so a round can succeed', () => {
    const s = settings({ targets: [A, B], reliability: 5, down: 1 });
    expect(s.reliability).toBe(2);
    expect(round(online(), s, [ans(A), ans(B)]).lastRound?.ok).toBe(true);
  });
});

describe('carrier', () => {
  it('carrier loss takes the link down at once and resets the counters and the window', () => {
    const s = settings({ down: 3, quality: {} });
    const before = rounds(online(), s, FAIL, FAIL);
    expect(before.fails).toBe(2);
    expect(before.windows[A]?.length).toBe(2);
    const t = carrier(before, s, false);
    expect(linkState(t)).toBe('down');
    expect(t).toMatchObject({ state: 'offline', carrier: false, since: clock, fails: 0, goods: 0, windows: {}, lastReason: 'carrier' });
  });

  it('an untracked interface is online at once when the carrier comes back', () => {
    const t = carrier(carrier(online(), null, false), null, true);
    expect(t.state).toBe('online');
    expect(linkState(t)).toBe('online');
    expect(t.lastReason).toBe('carrier');
  });

  it('a tracked interface must earn `up` good rounds after the carrier comes back', () => {
    const s = settings({ up: 2 });
    let t = carrier(carrier(online(), s, false), s, true);
    expect(t.state).toBe('offline');
    expect(linkState(t)).toBe('offline');
    t = round(t, s, GOOD);
    expect(linkState(t)).toBe('offline');
    t = round(t, s, GOOD);
    expect(linkState(t)).toBe('online');
  });

  it('rounds while the carrier is down are recorded but decide nothing', () => {
    const s = settings({ up: 1, down: 1 });
    let t = carrier(online(), s, false);
    t = rounds(t, s, GOOD, GOOD, GOOD);
    expect(t.state).toBe('offline');
    expect(t.goods).toBe(0);
    expect(linkState(t)).toBe('down');
    expect(t.lastRound?.ok).toBe(true);
  });

  it('a carrier event that changes nothing returns the same tracker', () => {
    const t = online();
    expect(carrier(t, null, true)).toBe(t);
    const down = carrier(t, null, false);
    expect(carrier(down, null, false)).toBe(down);
  });
});

describe('operator force (ifdown/ifup)', () => {
  it('forced down is out of service while the probes still say online; un-forcing restores it', () => {
    const s = settings();
    let t = force(online(), true);
    expect(linkState(t)).toBe('offline');
    expect(t.state).toBe('online');
    expect(t.forcedDown).toBe(true);
    expect(t.lastReason).toBe('operator');
    t = rounds(t, s, GOOD, GOOD);
    expect(linkState(t)).toBe('offline');
    t = force(t, false);
    expect(linkState(t)).toBe('online');
    expect(t.forcedDown).toBe(false);
  });

  it('tracking goes on while forced down: un-forcing a link that failed meanwhile leaves it offline', () => {
    const s = settings({ down: 2 });
    const t = force(rounds(force(online(), true), s, FAIL, FAIL), false);
    expect(t.state).toBe('offline');
    expect(linkState(t)).toBe('offline');
  });

  it('no carrier wins over forced down', () => {
    expect(linkState(carrier(force(online(), true), null, false))).toBe('down');
  });

  it('forcing to the current value returns the same tracker', () => {
    const t = online();
    expect(force(t, false)).toBe(t);
  });
});

describe('quality', () => {
  const q = { failureLatencyMs: 1000, failureLossPct: 40, recoveryLatencyMs: 500, recoveryLossPct: 10, window: 10 };

  it('while online, loss over the window above failureLossPct fails a round whose target answered', () => {
    const s = settings({ count: 3, down: 1, quality: q });
    const t = round(online(), s, [ans(), miss(), miss()]);
    expect(t.lastRound).toMatchObject({ ok: false, answered: 1, quality: 'loss 67% > 40%' });
    expect(t.state).toBe('offline');
  });

  it('while online, an average RTT above failureLatencyMs fails a round whose target answered', () => {
    const s = settings({ count: 2, down: 1, quality: q });
    const t = round(online(), s, [ans(A, 900), ans(A, 1300)]);
    expect(t.lastRound).toMatchObject({ ok: false, answered: 1, rttMs: 1100, quality: 'latency 1100.0 ms > 1000 ms' });
    expect(t.state).toBe('offline');
  });

  it.each<[string, ProbeResult[], boolean]>([
    ['loss exactly at the threshold (2 of 5)', [ans(), ans(), ans(), miss(), miss()], true],
    ['loss just above it (3 of 5)', [ans(), ans(), miss(), miss(), miss()], false],
    ['RTT exactly at the threshold', [ans(A, 1000)], true],
    ['RTT just above it', [ans(A, 1000.5)], false],
  ])('online thresholds are maxima: %s', (_what, results, ok) => {
    const s = settings({ count: results.length, quality: q });
    expect(round(online(), s, results).lastRound?.ok).toBe(ok);
  });

  it.each<[string, ProbeResult[], string]>([
    ['600 ms is fine online but too slow to recover', [ans(A, 600)], 'latency 600.0 ms > 500 ms'],
    ['20% loss is fine online but too lossy to recover', [ans(), ans(), ans(), ans(), miss()], 'loss 20% > 10%'],
  ])('while offline the stricter recovery thresholds apply: %s', (_what, results, why) => {
    const s = settings({ count: results.length, up: 1, down: 1, quality: q });
    expect(round(online(), s, results).lastRound).toMatchObject({ ok: true, quality: null });
    const t = round(offline(), s, results);
    expect(t.lastRound).toMatchObject({ ok: false, quality: why });
    expect(t.state).toBe('offline');
  });

  it('without quality, a slow or partly lossy round that reached its targets is good', () => {
    const s = settings({ count: 3, down: 1 });
    const t = round(online(), s, [ans(A, 5000), miss(), miss()]);
    expect(t.lastRound).toMatchObject({ ok: true, quality: null, rttMs: 5000 });
    expect(t.lastRound?.lossPct).toBeCloseTo(200 / 3);
    expect(t.state).toBe('online');
  });

  it('loss and latency are computed over the window, across rounds', () => {
    const s = settings({ count: 2, down: 5, quality: { ...q, window: 4 } });
    // Round 1 alone: 50% loss > 40%. Round 2 alone would be fine, but the window (4 samples) still holds round 1.
    let t = round(online(), s, [ans(A, 100), miss()]);
    expect(t.lastRound).toMatchObject({ ok: false, lossPct: 50 });
    t = round(t, s, [ans(A, 300), ans(A, 300)]);
    expect(t.lastRound).toMatchObject({ lossPct: 25, rttMs: 700 / 3, ok: true });
  });

  it('the window keeps only the last `window` samples', () => {
    const s = settings({ count: 3, down: 100, quality: { ...q, window: 4 } });
    const t = rounds(online(), s, [ans(A, 1), ans(A, 2), ans(A, 3)], [ans(A, 4), ans(A, 5), ans(A, 6)], [ans(A, 7), miss(), ans(A, 9)]);
    expect(t.windows[A]).toEqual([
      { ok: true, rttMs: 6 },
      { ok: true, rttMs: 7 },
      { ok: false, rttMs: null },
      { ok: true, rttMs: 9 },
    ]);
    expect(t.lastRound).toMatchObject({ lossPct: 25, rttMs: (6 + 7 + 9) / 3 });
  });

  it('the window is cleared on every state change, so recovery is judged on fresh probes', () => {
    const s = settings({ count: 4, down: 2, up: 1, quality: q });
    let t = round(online(), s, [ans(), miss(), miss(), miss()]);
    expect(t.windows[A]?.length).toBe(4);
    t = round(t, s, [ans(), miss(), miss(), miss()]);
    expect(t.state).toBe('offline');
    expect(t.windows).toEqual({});
    // With the old 75% loss still in the window this could never recover (recoveryLossPct 10).
    t = round(t, s, [ans(), ans(), ans(), ans()]);
    expect(t.lastRound).toMatchObject({ ok: true, lossPct: 0 });
    expect(t.state).toBe('online');
    expect(t.windows).toEqual({});
  });

  it('a failed probe contributes no RTT to the average', () => {
    const s = settings({ count: 2, quality: q });
    const t = round(online(), s, [ans(A, 40), { target: A, ok: false, rttMs: 9999, error: 'HTTP 503' }]);
    expect(t.lastRound?.rttMs).toBe(40);
    expect(t.windows[A]).toEqual([
      { ok: true, rttMs: 40 },
      { ok: false, rttMs: null },
    ]);
  });
});

describe('nextInterval', () => {
  const s = settings({ interval: 5, failureInterval: 1, recoveryInterval: 7, down: 3, up: 3 });

  it('uses interval while online and healthy, failureInterval while failing, recoveryInterval while offline', () => {
    let t = online();
    expect(nextInterval(t, s)).toBe(5);
    t = round(t, s, FAIL);
    expect(nextInterval(t, s)).toBe(1);
    t = round(t, s, GOOD);
    expect(nextInterval(t, s)).toBe(5);
    t = rounds(t, s, FAIL, FAIL, FAIL);
    expect(t.state).toBe('offline');
    expect(nextInterval(t, s)).toBe(7);
    t = round(t, s, GOOD);
    expect(nextInterval(t, s)).toBe(7);
  });

  it('uses recoveryInterval after a carrier loss', () => {
    expect(nextInterval(carrier(online(), s, false), s)).toBe(7);
  });
});

describe('initialTracker', () => {
  it.each<['online' | 'offline', boolean, boolean, 'online' | 'offline', string]>([
    ['online', true, false, 'online', 'online'],
    ['offline', true, false, 'offline', 'offline'],
    ['online', false, false, 'offline', 'down'],
    ['offline', false, false, 'offline', 'down'],
    ['online', true, true, 'online', 'offline'],
  ])('initial %s, carrier %s, forced down %s: state %s, link %s', (initial, hasCarrier, forcedDown, state, link) => {
    const t = initialTracker(initial, hasCarrier, 42, forcedDown);
    expect(t).toMatchObject({ state, since: 42, carrier: hasCarrier, forcedDown, fails: 0, goods: 0, windows: {}, lastRound: null, lastReason: 'start' });
    expect(linkState(t)).toBe(link);
  });
});

describe("progress: mwan3's connecting and disconnecting", () => {
  const s = settings({ down: 3, up: 3 });
  /** The step of each event in turn, with what progress() says about it. */
  const steps = (t: Tracker, ...events: ((t: Tracker) => Tracker)[]) =>
    events.map((e) => {
      const next = e(t);
      const p = progress(t, next);
      t = next;
      return p;
    });
  const good = (t: Tracker) => round(t, s, GOOD);
  const bad = (t: Tracker) => round(t, s, FAIL);

  it.each<[string, () => Tracker, ((t: Tracker) => Tracker)[], (string | null)[]]>([
    [
      'the first failed round while online is disconnecting; the next ones, and the one that goes offline, are not',
      online,
      [bad, bad, bad],
      ['disconnecting', null, null],
    ],
    ['the first good round while offline is connecting; the one that comes online is not', offline, [good, good, good], ['connecting', null, null]],
    ['a good round in between starts it again', online, [bad, good, bad], ['disconnecting', null, 'disconnecting']],
    ['good rounds while online say nothing', online, [good, good], [null, null]],
    ['failed rounds while offline say nothing', offline, [bad, bad], [null, null]],
    ['with down 1 the first failed round is already disconnected', online, [(t) => round(t, settings({ down: 1 }), FAIL)], [null]],
    ['rounds without carrier decide nothing, so say nothing', () => initialTracker('offline', false, 0), [good, good], [null, null]],
    ['rounds while forced down (ifdown) say nothing', () => force(offline(), true), [good, good, good], [null, null, null]],
    ['carrier changes are not rounds: nothing', online, [(t) => carrier(t, s, false), (t) => carrier(t, s, true)], [null, null]],
  ])('%s', (_what, from, events, want) => {
    expect(steps(from(), ...events)).toEqual(want);
  });
});

describe('quality is judged per target (as mwan3 does)', () => {
  const q = { failureLatencyMs: 1000, failureLossPct: 40, recoveryLatencyMs: 500, recoveryLossPct: 10, window: 10 };
  const two = (more: Partial<Track> = {}) => settings({ targets: [A, B], quality: q, down: 1, up: 1, ...more });

  it('with reliability 1, one dead target does not take a WAN with one perfect target offline', () => {
    const t = round(online(), two(), [ans(A, 10), miss(B)]);
    expect(t.lastRound).toMatchObject({ ok: true, answered: 1, quality: null, lossPct: 50 });
    expect(t.state).toBe('online');
  });

  it('with reliability 2, the dead target fails the round (it never answered: no quality verdict needed)', () => {
    const t = round(online(), two({ reliability: 2 }), [ans(A, 10), miss(B)]);
    expect(t.lastRound).toMatchObject({ ok: false, answered: 1, quality: null });
    expect(t.state).toBe('offline');
  });

  it('a lossy target is judged on its own window and named in the verdict', () => {
    const s = two({ reliability: 2, count: 2 });
    const t = round(online(), s, [ans(A, 10), ans(A, 10), ans(B, 10), miss(B)]);
    // Pooled, 1 lost of 4 is 25 % (under 40 %); B alone lost 50 %.
    expect(t.lastRound).toMatchObject({ ok: false, answered: 2, lossPct: 25, quality: `${B} loss 50% > 40%` });
  });

  it('each target keeps its own last `window` probes, and a target not probed keeps its window', () => {
    const s = two({ count: 1, quality: { ...q, window: 2 }, down: 100 });
    let t = rounds(online(), s, [ans(A, 1), ans(B, 1)], [ans(A, 2), ans(B, 2)], [ans(A, 3)]);
    expect(t.windows[A]).toEqual([
      { ok: true, rttMs: 2 },
      { ok: true, rttMs: 3 },
    ]);
    expect(t.windows[B]).toEqual([
      { ok: true, rttMs: 1 },
      { ok: true, rttMs: 2 },
    ]);
    t = round(t, s, [miss(A), ans(B, 4)]);
    expect(t.windows[A]).toEqual([
      { ok: true, rttMs: 3 },
      { ok: false, rttMs: null },
    ]);
  });
});
