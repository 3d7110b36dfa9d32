// explain and sticky state: a source with an entry in an installed sticky set of an active WAN goes back there.
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { explain, stickyState, type StickyState } from '../../src/compile/explain.js';
import { stickySetName } from '../../src/model/names.js';
import { validateConfig } from '../../src/config/validate.js';
import type { ResolvedConfig } from '../../src/config/resolved.js';

function config(): ResolvedConfig {
  const v = validateConfig({
    interfaces: {
      wan1: { device: 'wan1', gateway: '198.51.100.1' },
      wan2: { device: 'wan2', gateway: '198.51.100.9' },
      wan3: { device: 'wan3', gateway: '203.0.113.1', family: 'both', gateway6: '2001:db8:3::1' },
    },
    policies: { balanced: { members: [{ interface: 'wan1' }, { interface: 'wan2' }, { interface: 'wan3' }] } },
    rules: [
      { name: 'https', proto: 'tcp', destPort: [443], policy: 'balanced', sticky: true, stickyTimeout: 300 },
      { name: 'pairs', proto: 'udp', destPort: [3478], policy: 'balanced', sticky: true, stickyBy: 'srcdst' },
      { name: 'rest', policy: 'balanced' },
    ],
  });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return v.config;
}

const ctx = (sticky: StickyState) => ({ bypass: [], local: [], sticky });
const https = { src: '192.168.1.20', dst: '203.0.113.7', proto: 'tcp' as const, dport: 443 };
const pairs = { src: '192.168.1.20', dst: '203.0.113.7', proto: 'udp' as const, dport: 3478 };

describe('explain with sticky state', () => {
  const c = config();
  const plan = compile(c);

  it('names the WAN whose sticky set holds the source, with probability 1 and the time left', () => {
    const e = explain(c, plan, https, ctx({ sticky_https_wan2: [{ key: ['192.168.1.20'], expires: 250 }] }));
    expect(e.candidates).toEqual([expect.objectContaining({ interface: 'wan2', device: 'wan2', probability: 1 })]);
    expect(e.stickyRule).toEqual({ by: 'src', timeout: 300, entry: { interface: 'wan2', set: 'sticky_https_wan2', expires: 250 }, ignored: [] });
    expect(e.sticky).toMatch(/192\.168\.1\.20 is on wan2 for another 250 s/);
    expect(e.reason).toMatch(/has an entry in sticky_https_wan2, so it goes back to wan2/);
  });

  it.each([
    ['another source has an entry', { sticky_https_wan2: [{ key: ['192.168.1.21'] }] }],
    ['no set has any entry', {}],
  ])('balances by the policy when %s, and says the rule is sticky', (_what, state) => {
    const e = explain(c, plan, https, ctx(state));
    expect(e.candidates.map((x) => [x.interface, x.probability])).toEqual([
      ['wan1', 1 / 3],
      ['wan2', 1 / 3],
      ['wan3', 1 / 3],
    ]);
    expect(e.stickyRule).toMatchObject({ by: 'src', timeout: 300, entry: null });
    expect(e.sticky).toMatch(/sticky by src \(timeout 300 s\): no entry for 192\.168\.1\.20/);
  });

  it('does not consult the entry of a WAN that is offline: the source is rebalanced', () => {
    const down = compile(c, undefined, { wan2: 'offline' });
    const e = explain(c, down, https, ctx({ sticky_https_wan2: [{ key: ['192.168.1.20'], expires: 100 }] }));
    expect(e.candidates.map((x) => x.interface)).toEqual(['wan1', 'wan3']);
    expect(e.stickyRule).toMatchObject({ entry: null, ignored: [{ interface: 'wan2', set: 'sticky_https_wan2' }] });
    expect(e.sticky).toMatch(/entries on wan2 are not consulted/);
  });

  it('takes the first active member in policy order when several sets hold the source, as the sticky chain does', () => {
    const e = explain(c, plan, https, ctx({ sticky_https_wan3: [{ key: ['192.168.1.20'] }], sticky_https_wan2: [{ key: ['192.168.1.20'] }] }));
    expect(e.stickyRule?.entry).toEqual({ interface: 'wan2', set: 'sticky_https_wan2', expires: null });
  });

  it.each([
    ['the same source and destination', ['192.168.1.20', '203.0.113.7'], 'wan3'],
    ['the same source to another destination', ['192.168.1.20', '203.0.113.8'], null],
  ])('a srcdst rule matches on %s', (_what, key, expected) => {
    const e = explain(c, plan, pairs, ctx({ sticky_pairs_wan3: [{ key }] }));
    expect(e.stickyRule?.by).toBe('srcdst');
    expect(e.stickyRule?.entry?.interface ?? null).toBe(expected);
  });

  it('uses the sticky6_ sets for an IPv6 flow', () => {
    const flow = { src: '2001:db8:10::2', dst: '2001:db8:ff::7', proto: 'tcp' as const, dport: 443 };
    expect(explain(c, plan, flow, ctx({ sticky_https_wan3: [{ key: ['2001:db8:10::2'] }] })).stickyRule?.entry).toBeNull();
    expect(explain(c, plan, flow, ctx({ sticky6_https_wan3: [{ key: ['2001:db8:10:0::2'] }] })).stickyRule?.entry?.interface).toBe('wan3');
  });

  it('says a rule that is not sticky is not sticky', () => {
    const e = explain(c, plan, { ...https, dport: 80 }, ctx({ sticky_https_wan1: [{ key: ['192.168.1.20'] }] }));
    expect(e.rule).toBe('rest');
    expect(e.stickyRule).toBeNull();
    expect(e.sticky).toMatch(/rule "rest" is not sticky/);
    expect(e.candidates).toHaveLength(3);
  });

  it('looks up the sets the compiled sticky chain consults', () => {
    const text = JSON.stringify(plan.nft);
    for (const wan of ['wan1', 'wan2', 'wan3']) {
      expect(plan.stickySets).toContain(stickySetName('https', wan, 'ipv4'));
      expect(text).toContain(`"@${stickySetName('https', wan, 'ipv4')}"`);
    }
    expect(text).toContain(`"@${stickySetName('https', 'wan3', 'ipv6')}"`);
  });
});

describe('sticky state read off an nft -j listing', () => {
  it('reads plain and concatenated elements, with expires when given, of the named sets only', () => {
    const listing = [
      { table: { family: 'inet', name: 'nft_mwan' } },
      {
        set: {
          name: 'sticky_https_wan1',
          type: 'ipv4_addr',
          flags: ['timeout'],
          timeout: 300,
          elem: [{ elem: { val: '192.168.1.20', timeout: 100, expires: 99 } }, { elem: { val: '192.168.1.21', expires: 299 } }],
        },
      },
      {
        set: {
          name: 'sticky_pairs_wan1',
          type: ['ipv4_addr', 'ipv4_addr'],
          elem: [{ elem: { val: { concat: ['192.168.1.20', '203.0.113.7'] }, expires: 42 } }],
        },
      },
      { set: { name: 'sticky_https_wan2', type: 'ipv4_addr' } },
      { set: { name: 'bypass_v4', type: 'ipv4_addr', elem: ['10.0.0.0/8'] } },
    ];
    expect(stickyState(listing, ['sticky_https_wan1', 'sticky_pairs_wan1', 'sticky_https_wan2'])).toEqual({
      sticky_https_wan1: [
        { key: ['192.168.1.20'], expires: 99 },
        { key: ['192.168.1.21'], expires: 299 },
      ],
      sticky_pairs_wan1: [{ key: ['192.168.1.20', '203.0.113.7'], expires: 42 }],
      sticky_https_wan2: [],
    });
    expect(stickyState(null, ['sticky_https_wan1'])).toEqual({});
  });
});

describe('explain refuses what it cannot explain with an MwanError', () => {
  const c = config();
  const plan = compile(c);

  it.each([
    ['an IPv4 source to an IPv6 destination', { ...https, dst: '2001:db8::1' }],
    ['a source that is no address', { ...https, src: 'router' }],
  ])('a flow of %s is a usage error', (_what, flow) => {
    expect(() => explain(c, plan, flow, ctx({}))).toThrow(expect.objectContaining({ name: 'MwanError', code: 'USAGE' }));
  });

  it('a plan missing a policy the config names is a bug (INTERNAL), not a user error', () => {
    const stale = { ...plan, policies: plan.policies.filter((p) => p.name !== 'balanced') };
    expect(() => explain(c, stale, https, ctx({}))).toThrow(expect.objectContaining({ name: 'MwanError', code: 'INTERNAL' }));
  });
});

describe('explain of IPv6 with no WAN carrying it', () => {
  const withIpv6 = (ipv6WithoutWan: 'main' | 'lastResort') => {
    const v = validateConfig({
      interfaces: { wan1: { device: 'wan1', gateway: '198.51.100.1' } },
      policies: { p: { members: [{ interface: 'wan1' }], lastResort: 'blackhole' } },
      rules: [{ name: 'all', policy: 'p' }],
      globals: { ipv6WithoutWan },
    });
    if (!v.ok) throw new Error(JSON.stringify(v.issues));
    return explain(v.config, compile(v.config), { src: '2001:db8:10::5', dst: '2001:db8:ff::7', proto: 'tcp', dport: 443 }, ctx({}));
  };

  it('"main": the rule matches, but IPv6 is not balanced', () => {
    expect(withIpv6('main')).toMatchObject({ lastResort: null, reason: expect.stringMatching(/no WAN carries IPv6: not balanced/) });
  });

  it('"lastResort": the policy gives IPv6 its last resort, as mwan3 with ip6tables', () => {
    expect(withIpv6('lastResort')).toMatchObject({ policy: 'p', candidates: [], lastResort: 'blackhole' });
  });
});
