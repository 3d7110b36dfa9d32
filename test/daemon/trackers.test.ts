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

describe('a state per family (track6)', () => {
  const G6: ProbeResult[] = [{ target: '2001:db8::1', ok: true, rttMs: 5, error: null }];
  const F6: ProbeResult[] = [{ target: '2001:db8::1', ok: false, rttMs: null, error: 'no reply' }];
  const DUAL = config({
    ds: { device: 'ds', gateway: '192.0.2.1', family: 'both', track, track6: { targets: ['2001:db8::1'], down: 2, up: 2 } },
    wan2: { device: 'wan2', gateway: '198.51.100.1', track },
  });
  const dual = () => {
    const t = new WanTrackers();
    t.adopt(
      DUAL,
      new Map([
        ['ds', true],
        ['wan2', true],
      ]),
      1_000,
    );
    t.refresh('start', 1_000);
    return t;
  };

  it('tracks each family apart: IPv6 probes failing take only IPv6 offline, and the transition says so', () => {
    const t = dual();
    expect(t.tracked(DUAL).map(([k, s]) => [k, s.targets])).toEqual([
      ['ds', ['203.0.113.1']],
      ['ds/ipv6', ['2001:db8::1']],
      ['wan2', ['203.0.113.1']],
    ]);
    for (const at of [2_000, 3_000]) {
      t.step('ds', { type: 'round', at, results: GOOD });
      t.step('ds/ipv6', { type: 'round', at, results: F6 });
    }
    expect(t.refresh('probes', 3_000).transitions).toEqual([
      { name: 'ds', family: 'ipv6', from: 'online', to: 'offline', reason: 'probes', detail: 'probes failing: 2001:db8::1 no reply' },
    ]);
    expect(t.linkStates()).toEqual({ ds: { ipv4: 'online', ipv6: 'offline' }, wan2: 'online' });
    expect(t.names()).toEqual(['ds', 'wan2']);
    const r = t.records().ds;
    expect(r).toMatchObject({ state: 'online', ipv6: { state: 'offline', tracking: true } });
    expect(t.records().wan2).not.toHaveProperty('ipv6');
    expect(t.stateChanges()).toEqual({ 'ds/ipv6': 1 });
  });

  it('the IPv4 tracker of a split WAN names its family; carrier and operator events reach both keys', () => {
    const t = dual();
    expect(t.keysOf('ds')).toEqual(['ds', 'ds/ipv6']);
    expect(t.keysOf('wan2')).toEqual(['wan2']);
    for (const key of t.keysOf('ds')) t.step(key, { type: 'force', at: 2_000, down: true });
    expect(t.refresh('operator', 2_000).transitions.map((x) => [x.name, x.family, x.to, x.reason])).toEqual([
      ['ds', 'ipv4', 'offline', 'operator'],
      ['ds', 'ipv6', 'offline', 'operator'],
    ]);
    // Forced down holds: good IPv6 probes change nothing until the operator lifts it.
    expect(t.step('ds/ipv6', { type: 'round', at: 3_000, results: G6 })?.between).toBeNull();
    expect(t.refresh('probes', 3_000).transitions).toEqual([]);
    expect(t.linkStates()).toEqual({ ds: { ipv4: 'offline', ipv6: 'offline' }, wan2: 'online' });
    expect(t.records().ds?.ipv6).toMatchObject({ state: 'offline', forcedDown: true, lastRound: { ok: true } });
    for (const key of t.keysOf('ds')) t.step(key, { type: 'force', at: 4_000, down: false });
    expect(t.refresh('operator', 4_000).transitions.map((x) => [x.name, x.family, x.to, x.reason])).toEqual([
      ['ds', 'ipv4', 'online', 'operator'],
      ['ds', 'ipv6', 'online', 'operator'],
    ]);
  });

  it('a reload without track6 drops the IPv6 tracker: one state again', () => {
    const t = dual();
    t.adopt(config({ ds: { device: 'ds', gateway: '192.0.2.1', family: 'both', track }, wan2: { device: 'wan2', gateway: '198.51.100.1', track } }), up, 2_000);
    expect(t.keysOf('ds')).toEqual(['ds']);
    expect(t.linkStates()).toEqual({ ds: 'online', wan2: 'online' });
  });

  it('a restarted daemon takes each family from the state file', () => {
    const t = dual();
    for (const at of [2_000, 3_000]) t.step('ds/ipv6', { type: 'round', at, results: F6 });
    t.refresh('probes', 3_000);
    const again = new WanTrackers();
    again.adopt(
      DUAL,
      new Map([
        ['ds', true],
        ['wan2', true],
      ]),
      4_000,
      t.records(),
    );
    again.refresh('start', 4_000);
    expect(again.linkStates()).toEqual({ ds: { ipv4: 'online', ipv6: 'offline' }, wan2: 'online' });
  });
});
