// The WANs' trackers: events in, recorded states and the transitions (with their reason and detail) out.
import { describe, expect, it } from 'vitest';
import { roundFailure, WanTrackers } from '../../src/daemon/trackers.js';
import { validateConfig } from '../../src/config/validate.js';
import type { ResolvedConfig } from '../../src/config/resolved.js';
import type { ProbeResult } from '../../src/model/tracking.js';

function config(interfaces: Record<string, Record<string, unknown>>): ResolvedConfig {
  const v = validateConfig({
    interfaces,
    policies: { balanced: { members: Object.keys(interfaces).map((interface_) => ({ interface: interface_ })) } },
    rules: [{ name: 'default', policy: 'balanced' }],
  });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return v.config;
}

const track = { targets: ['203.0.113.1'], down: 2, up: 2 };
const TWO = config({ wan1: { device: 'wan1', gateway: '192.0.2.1', track }, wan2: { device: 'wan2', gateway: '198.51.100.1', track } });
const GOOD: ProbeResult[] = [{ target: '203.0.113.1', ok: true, rttMs: 5, error: null }];
const FAIL: ProbeResult[] = [{ target: '203.0.113.1', ok: false, rttMs: null, error: 'no reply' }];
const up = new Map([
  ['wan1', true],
  ['wan2', true],
]);

function started() {
  const t = new WanTrackers();
  t.adopt(TWO, up, 1_000);
  expect(t.refresh('start', 1_000)).toEqual({ recorded: true, transitions: [] });
  return t;
}

describe('state changes', () => {
  it('the first recording is no transition; a change is, once, with its reason and detail', () => {
    const t = started();
    expect(t.current()).toEqual({ wan1: 'online', wan2: 'online' });
    t.step('wan2', { type: 'round', at: 2_000, results: FAIL });
    expect(t.refresh('probes', 2_000)).toEqual({ recorded: false, transitions: [] });
    t.step('wan2', { type: 'round', at: 3_000, results: FAIL });
    const r = t.refresh('probes', 3_000);
    expect(r.transitions).toEqual([{ name: 'wan2', from: 'online', to: 'offline', reason: 'probes', detail: 'probes failing: 203.0.113.1 no reply' }]);
    expect(t.refresh('probes', 3_500).transitions).toEqual([]);
    expect(t.stateChanges()).toEqual({ wan2: 1 });
    expect(t.records().wan2).toMatchObject({ state: 'offline', since: new Date(3_000).toISOString(), tracking: true });
  });

  it('the first failed round while online is a disconnecting step (no state change), the second is none', () => {
    const t = started();
    expect(t.step('wan1', { type: 'round', at: 2_000, results: FAIL })?.between).toMatchObject({
      name: 'wan1',
      action: 'disconnecting',
      from: 'online',
      to: 'online',
      detail: 'first failed probe round: 203.0.113.1 no reply',
    });
    expect(t.step('wan1', { type: 'round', at: 3_000, results: FAIL })?.between).toBeNull();
  });

  it.each([
    {
      case: 'carrier lost',
      event: { type: 'carrier', at: 2_000, up: false } as const,
      to: 'down',
      reason: 'carrier',
      detail: 'link down, device gone or no gateway',
    },
    { case: 'operator ifdown', event: { type: 'force', at: 2_000, down: true } as const, to: 'offline', reason: 'operator', detail: 'ifdown by operator' },
  ])('$case: $to, reason $reason', ({ event, to, reason, detail }) => {
    const t = started();
    t.step('wan1', event);
    expect(t.refresh('probes', 2_000).transitions).toEqual([{ name: 'wan1', from: 'online', to, reason, detail }]);
  });

  it('an unknown WAN takes no event', () => {
    expect(started().step('wan9', { type: 'round', at: 2_000, results: GOOD })).toBeNull();
  });
});

describe('adopting a config', () => {
  it("keeps the trackers of WANs it still has, drops removed ones, starts new ones; a previous daemon's record decides the start", () => {
    const t = new WanTrackers();
    t.adopt(TWO, up, 0, {
      wan1: {
        state: 'offline',
        tracked: 'offline',
        since: '',
        carrier: true,
        forcedDown: true,
        tracking: true,
        fails: 0,
        goods: 0,
        lossPct: null,
        rttMs: null,
        lastRound: null,
      },
    });
    expect(t.live()).toEqual({ wan1: 'offline', wan2: 'online' });
    expect(t.tracker('wan1')?.forcedDown).toBe(true);
    const next = config({ wan2: { device: 'wan2', gateway: '198.51.100.1', track }, wan3: { device: 'wan3', gateway: '203.0.113.9', enabled: false, track } });
    const kept = t.tracker('wan2');
    t.adopt(next, new Map([['wan3', false]]), 5);
    expect(t.names()).toEqual(['wan2', 'wan3']);
    expect(t.tracker('wan2')).toBe(kept);
    expect(t.live()).toEqual({ wan2: 'online', wan3: 'down' });
    // Probed: tracked and enabled only.
    expect(t.tracked(next).map(([n]) => n)).toEqual(['wan2']);
  });
});

describe('roundFailure', () => {
  it('says nothing for a good round and names the failed targets of a bad one', () => {
    const t = started();
    t.step('wan1', { type: 'round', at: 2_000, results: GOOD });
    const wan1 = () => {
      const x = t.tracker('wan1');
      if (!x) throw new Error('wan1 has a tracker');
      return x;
    };
    expect(roundFailure(wan1())).toBeNull();
    t.step('wan1', { type: 'round', at: 3_000, results: FAIL });
    expect(roundFailure(wan1())).toBe('round failed (1 in a row): 203.0.113.1: no reply');
  });
});
