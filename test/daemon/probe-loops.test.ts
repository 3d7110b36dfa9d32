// The probe loops: a round per interval once the WAN's egress is known and its link is up, woken early, stopped for good.
import { afterEach, describe, expect, it } from 'vitest';
import { ProbeLoops } from '../../src/daemon/probe-loops.js';
import { trackSettings } from '../../src/config/normalize.js';
import type { TrackSettings } from '../../src/config/resolved.js';
import { initialTracker, type Tracker } from '../../src/track/machine.js';
import type { Egress, Prober } from '../../src/track/probes.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function settings(interval: number, recoveryInterval = interval): TrackSettings {
  const s = trackSettings({ device: 'wan1', track: { targets: ['203.0.113.1:443'], interval, recoveryInterval, method: 'tcp' } });
  if (s === null) throw new Error('tracked');
  return s;
}

let loops: ProbeLoops | null = null;
afterEach(() => loops?.stop());

function harness(tracker: Tracker) {
  const probed: { name: string; egress: Egress }[] = [];
  const rounds: string[] = [];
  const prober: Prober = async (_s, egress) => {
    probed.push({ name: egress.device, egress });
    return [{ target: '203.0.113.1', ok: true, rttMs: 1, error: null }];
  };
  const state = { tracker };
  loops = new ProbeLoops({ prober, tracker: () => state.tracker, onRound: (name) => rounds.push(name), log: { warn: () => undefined } });
  return { loops, probed, rounds, state };
}

/** Waits for a condition with a deadline (a loaded machine runs short timers late, not never). */
async function until(done: () => boolean, timeoutMs = 5_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !done() && Date.now() < deadline;) await sleep(5);
}

const egress = { name: 'wan1', device: 'eth1', mark: 0x100, address: '192.0.2.2' };

describe('ProbeLoops', () => {
  it('probes only once the egress is known, through it, every interval', async () => {
    const h = harness(initialTracker('online', true, 0));
    h.loops.restart([['wan1', settings(0.05)]]);
    await sleep(80);
    expect(h.probed).toEqual([]);
    h.loops.follow([egress]);
    await until(() => h.probed.length >= 2);
    expect(h.probed.length).toBeGreaterThanOrEqual(2);
    expect(h.probed.length).toBeLessThanOrEqual(5);
    expect(h.probed[0]?.egress).toEqual({ device: 'eth1', mark: 0x100, address: '192.0.2.2', address6: null });
    expect(h.rounds.every((n) => n === 'wan1')).toBe(true);
  });

  it('without carrier it does not probe; woken once its interval is shorter (carrier back, recovering), it probes at once', async () => {
    // Online when its link went: the next round is an interval (5 s) away.
    const h = harness({ ...initialTracker('online', true, 0), carrier: false });
    h.loops.follow([egress]);
    h.loops.restart([['wan1', settings(5, 0.02)]]);
    await sleep(50);
    expect(h.probed).toEqual([]);
    // The carrier is back, the WAN offline: rounds every 20 ms now, but the loop sleeps out its 5 s until woken.
    h.state.tracker = initialTracker('offline', true, 0);
    await sleep(50);
    expect(h.probed).toEqual([]);
    h.loops.wake('wan1');
    await until(() => h.probed.length >= 1, 1_000);
    expect(h.probed.length).toBeGreaterThanOrEqual(1);
  });

  it('stop ends every loop: no round after it', async () => {
    const h = harness(initialTracker('online', true, 0));
    h.loops.follow([egress]);
    h.loops.restart([['wan1', settings(0.03)]]);
    await sleep(50);
    h.loops.stop();
    const n = h.probed.length;
    await sleep(100);
    expect(h.probed.length).toBe(n);
  });
});
