// normalize: every default of the schema filled in once, absent options left absent, what the config says kept.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { normalize, resolveGlobals, trackSettings } from '../../src/config/normalize.js';
import type { TrackSettings } from '../../src/config/resolved.js';
import type { NftMwanConfig, Track } from '../../src/generated/config.js';
import { TRACK_DEFAULTS } from '../../src/model/defaults.js';
import { parseMask } from '../../src/model/marks.js';

const A = '192.0.2.1';

function settings(track: Partial<Track> = {}): TrackSettings {
  const s = trackSettings({ device: 'wan1', track: { targets: [A], ...track } });
  if (s === null) throw new Error('a tracked interface must have settings');
  return s;
}

interface SchemaNode {
  $ref?: string;
  default?: unknown;
  properties?: Record<string, SchemaNode>;
  definitions?: Record<string, SchemaNode>;
}
const schema = JSON.parse(readFileSync(new URL('../../schema/config.schema.json', import.meta.url), 'utf8')) as SchemaNode;
const def = (name: string): SchemaNode => {
  const node = schema.definitions?.[name];
  if (!node) throw new Error(`no definition ${name}`);
  return node;
};
/** [property, schema default] of a definition (or of an inline object), for every property that has one. */
const defaultsOf = (node: SchemaNode): [string, unknown][] =>
  Object.entries(node.properties ?? {}).flatMap(([k, v]) => (v.default === undefined ? [] : [[k, v.default] as [string, unknown]]));

const minimal: NftMwanConfig = {
  interfaces: { wan1: { device: 'eth1', track: { targets: [A], quality: {} } } },
  policies: { p: { members: [{ interface: 'wan1' }] } },
  rules: [{ name: 'r', policy: 'p' }],
  sets: { s: { type: 'ipv4_addr' } },
};

describe('normalize fills in every default the schema documents', () => {
  const resolved = normalize(minimal);
  const globals = resolved.globals as unknown as Record<string, unknown>;
  const iface = resolved.interfaces.wan1 as unknown as Record<string, unknown>;
  const track = resolved.interfaces.wan1?.track as unknown as Record<string, unknown>;
  const cases: [string, Record<string, unknown> | undefined, [string, unknown][]][] = [
    ['Globals', globals, defaultsOf(def('Globals'))],
    ['Globals.metrics', globals.metrics as Record<string, unknown>, defaultsOf(def('Globals').properties?.metrics ?? {})],
    ['Interface', iface, defaultsOf(def('Interface'))],
    ['Member', resolved.policies.p?.members[0] as unknown as Record<string, unknown>, defaultsOf(def('Member'))],
    ['Policy', resolved.policies.p as unknown as Record<string, unknown>, defaultsOf(def('Policy'))],
    ['Rule', resolved.rules[0] as unknown as Record<string, unknown>, defaultsOf(def('Rule'))],
    ['Track', track, defaultsOf(def('Track'))],
    ['Quality', track.quality as Record<string, unknown>, defaultsOf(def('Quality'))],
  ];
  it.each(cases)('%s: each property with a schema default has that value', (_name, object, defaults) => {
    expect(defaults.length).toBeGreaterThan(0);
    for (const [key, value] of defaults) {
      // markMask is resolved to its number; the schema writes it as the hex string a user would.
      const expected = key === 'markMask' ? parseMask(value as string) : value;
      expect(object?.[key], key).toEqual(expected);
    }
  });

  it('leaves options without a default absent, as the config has them', () => {
    expect(resolved.interfaces.wan1).toMatchObject({ gateway: undefined, gateway6: undefined, id: undefined, npt6Prefix: undefined });
    expect(resolved.rules[0]).toMatchObject({
      srcIp: undefined,
      destIp: undefined,
      srcPort: undefined,
      destPort: undefined,
      srcIface: undefined,
      set: undefined,
    });
    expect(resolved.globals).toMatchObject({ hooks: undefined, mwan3User: undefined, metrics: { listen: undefined, textfile: undefined } });
    expect(resolved.sets.s).toEqual({ type: 'ipv4_addr', elements: [], timeout: undefined });
  });

  it('keeps every value the config gives', () => {
    const r = normalize({
      globals: { markMask: '0xff0000', table: 't', routeTableBase: 2000, hookTimeout: 3, metrics: { interval: 5 } },
      interfaces: {
        a: { device: 'ppp0', enabled: false, family: 'both', nat: 'none', nat6: 'npt', npt6Prefix: '2001:db8::/48', id: 4, initialState: 'offline' },
      },
      policies: { p: { members: [{ interface: 'a', metric: 2, weight: 7 }], lastResort: 'default', mode: 'srchash' } },
      rules: [{ name: 'r', policy: 'p', proto: 'udp', sticky: true, stickyTimeout: 30, stickyBy: 'srcdst', family: 'ipv6', log: true }],
    });
    expect(r.globals).toMatchObject({ markMask: 0xff0000, table: 't', routeTableBase: 2000, hookTimeout: 3, metrics: { interval: 5 } });
    expect(r.interfaces.a).toMatchObject({
      device: 'ppp0',
      enabled: false,
      family: 'both',
      nat: 'none',
      nat6: 'npt',
      npt6Prefix: '2001:db8::/48',
      id: 4,
      initialState: 'offline',
      track: null,
    });
    expect(r.policies.p).toEqual({ members: [{ interface: 'a', metric: 2, weight: 7 }], lastResort: 'default', mode: 'srchash' });
    expect(r.rules[0]).toMatchObject({ proto: 'udp', sticky: true, stickyTimeout: 30, stickyBy: 'srcdst', family: 'ipv6', log: true });
  });

  it('the globals of an unreadable config are the defaults (what stop removes)', () => {
    expect(resolveGlobals({})).toEqual(normalize({ interfaces: {}, policies: {} }).globals);
    expect(resolveGlobals({})).toMatchObject({ table: 'nft_mwan', routeProtocol: 77 });
  });
});

describe('trackSettings', () => {
  it('is null without track', () => {
    expect(trackSettings({ device: 'wan1' })).toBeNull();
  });

  it('fills every default', () => {
    expect(trackSettings({ device: 'wan1', track: { targets: [A] } })).toEqual({
      targets: [A],
      family: 'ipv4',
      method: TRACK_DEFAULTS.method,
      reliability: TRACK_DEFAULTS.reliability,
      count: TRACK_DEFAULTS.count,
      timeout: TRACK_DEFAULTS.timeout,
      interval: TRACK_DEFAULTS.interval,
      failureInterval: TRACK_DEFAULTS.interval,
      recoveryInterval: TRACK_DEFAULTS.interval,
      down: TRACK_DEFAULTS.down,
      up: TRACK_DEFAULTS.up,
      expectStatus: null,
      dnsName: null,
      quality: null,
    });
  });

  it('matches the documented defaults', () => {
    expect(TRACK_DEFAULTS).toEqual({
      method: 'ping',
      reliability: 1,
      count: 1,
      timeout: 1,
      interval: 2,
      down: 3,
      up: 3,
      quality: { failureLatencyMs: 1000, failureLossPct: 40, recoveryLatencyMs: 500, recoveryLossPct: 10, window: 10 },
    });
  });

  it('failureInterval and recoveryInterval default to the configured interval', () => {
    expect(settings({ interval: 7 })).toMatchObject({ interval: 7, failureInterval: 7, recoveryInterval: 7 });
    expect(settings({ interval: 7, failureInterval: 1 })).toMatchObject({ failureInterval: 1, recoveryInterval: 7 });
    expect(settings({ interval: 7, recoveryInterval: 30 })).toMatchObject({ failureInterval: 7, recoveryInterval: 30 });
  });

  it('an empty quality object gets every quality default; a partial one keeps what it sets', () => {
    expect(settings({ quality: {} }).quality).toEqual(TRACK_DEFAULTS.quality);
    expect(settings({ quality: { window: 3, recoveryLossPct: 0 } }).quality).toEqual({ ...TRACK_DEFAULTS.quality, window: 3, recoveryLossPct: 0 });
  });

  it('keeps what the config sets', () => {
    const s = settings({ targets: ['http://192.0.2.80/'], method: 'http', count: 2, timeout: 0.5, down: 4, up: 6, expectStatus: [204] });
    expect(s).toMatchObject({ targets: ['http://192.0.2.80/'], method: 'http', count: 2, timeout: 0.5, down: 4, up: 6, expectStatus: [204] });
    expect(settings({ method: 'dns', dnsName: 'example.com' }).dnsName).toBe('example.com');
  });
});
