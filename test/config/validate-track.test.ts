// Validation of `track`: bad targets per method, reliability against the target count, method-only options and
// schema violations are each reported at their JSON pointer, saying what would be valid.
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/validate.js';

type Track = Record<string, unknown>;

const configWith = (track: Track, more: Record<string, unknown> = {}) => ({
  interfaces: {
    wan1: { device: 'wan1', gateway: '198.51.100.1', track, ...more },
    wan2: { device: 'wan2', gateway: 'auto' },
  },
  policies: { balanced: { members: [{ interface: 'wan1' }, { interface: 'wan2' }] } },
  rules: [{ name: 'default', policy: 'balanced' }],
});

const issuesOf = (track: Track) => {
  const r = validateConfig(configWith(track));
  return r.ok ? [] : r.issues;
};

const T = '/interfaces/wan1/track';

describe('validateConfig: track', () => {
  it.each<[string, Track]>([
    ['ping with defaults', { targets: ['192.0.2.1'] }],
    [
      'ping, 2 of 3, every option',
      {
        targets: ['192.0.2.1', '192.0.2.2', '192.0.2.3'],
        method: 'ping',
        reliability: 2,
        count: 3,
        timeout: 0.5,
        interval: 1.5,
        failureInterval: 0.5,
        recoveryInterval: 10,
        down: 5,
        up: 2,
        quality: { failureLatencyMs: 300, failureLossPct: 20, recoveryLatencyMs: 150, recoveryLossPct: 5, window: 30 },
      },
    ],
    ['reliability equal to the target count', { targets: ['192.0.2.1', '192.0.2.2'], reliability: 2 }],
    ['tcp', { method: 'tcp', targets: ['192.0.2.1:443', '192.0.2.2:22'] }],
    ['http with statuses', { method: 'http', targets: ['http://192.0.2.80/health', 'https://192.0.2.81:8443/'], expectStatus: [200, 204] }],
    ['dns with a name', { method: 'dns', targets: ['192.0.2.53'], dnsName: 'example.com' }],
    ['an empty quality (all defaults)', { targets: ['192.0.2.1'], quality: {} }],
    ['ping host names', { targets: ['one.one.one.one', 'dns.google'] }],
    ['tcp name:port', { method: 'tcp', targets: ['www.example.net:443'] }],
    ['an http URL with a host name', { method: 'http', targets: ['https://www.example.net/generate_204'] }],
    ['a dns server given by name', { method: 'dns', targets: ['ns1.example.net'] }],
  ])('accepts %s', (_what, track) => {
    const r = validateConfig(configWith(track));
    expect(r.ok ? [] : r.issues).toEqual([]);
  });

  it.each<[string, Track, string, RegExp]>([
    [
      'a tcp target without a port',
      { method: 'tcp', targets: ['192.0.2.1'] },
      `${T}/targets/0`,
      /"192\.0\.2\.1" is not address:port or name:port \(tcp targets look like "192\.0\.2\.53:443", "\[2001:db8::53\]:443" or "www\.example\.net:443"\)/,
    ],
    ['a bad second target', { method: 'tcp', targets: ['192.0.2.1:443', '192.0.2.2:0'] }, `${T}/targets/1`, /"192\.0\.2\.2:0" is not address:port/],
    [
      'an http target whose host is neither an address nor a name',
      { method: 'http', targets: ['http://bad_name.example/health'] },
      `${T}/targets/0`,
      /the host must be an IPv4 address, an IPv6 one in brackets or a host name/,
    ],
    ['an http target that is not a URL', { method: 'http', targets: ['192.0.2.80'] }, `${T}/targets/0`, /is not a URL/],
    [
      'a ping target that is junk (default method)',
      { targets: ['one one'] },
      `${T}/targets/0`,
      /"one one" is not an IPv4 or IPv6 address or a host name \(ping targets/,
    ],
    ['a dns target with a port', { method: 'dns', targets: ['192.0.2.53:53'] }, `${T}/targets/0`, /not an IPv4 or IPv6 address or a host name \(dns targets/],
    ['an http URL given to ping', { targets: ['http://192.0.2.80/'] }, `${T}/targets/0`, /not an IPv4 or IPv6 address/],
    [
      'reliability 3 with 2 targets',
      { targets: ['192.0.2.1', '192.0.2.2'], reliability: 3 },
      `${T}/reliability`,
      /reliability 3 needs that many targets, but there are 2: no round could ever succeed/,
    ],
    [
      'expectStatus with method ping',
      { method: 'ping', targets: ['192.0.2.1'], expectStatus: [200] },
      `${T}/expectStatus`,
      /only for method "http" \(method is "ping"\)/,
    ],
    [
      'expectStatus with the default method',
      { targets: ['192.0.2.1'], expectStatus: [200] },
      `${T}/expectStatus`,
      /only for method "http" \(method is "ping"\)/,
    ],
    [
      'dnsName with method tcp',
      { method: 'tcp', targets: ['192.0.2.1:53'], dnsName: 'example.com' },
      `${T}/dnsName`,
      /only for method "dns" \(method is "tcp"\)/,
    ],
    [
      'an unknown property inside track',
      { targets: ['192.0.2.1'], intervall: 5 },
      T,
      /unknown property "intervall" \(allowed: targets, method, reliability, count, timeout, interval, failureInterval, recoveryInterval, down, up, expectStatus, dnsName, quality\)/,
    ],
    [
      'an unknown property inside quality',
      { targets: ['192.0.2.1'], quality: { lossPct: 5 } },
      `${T}/quality`,
      /unknown property "lossPct" \(allowed: failureLatencyMs, failureLossPct, recoveryLatencyMs, recoveryLossPct, window\)/,
    ],
    ['a negative interval', { targets: ['192.0.2.1'], interval: -1 }, `${T}/interval`, /must be >= 0.05/],
    ['a zero timeout', { targets: ['192.0.2.1'], timeout: 0 }, `${T}/timeout`, /must be >= 0.05/],
    ['a fractional down', { targets: ['192.0.2.1'], down: 1.5 }, `${T}/down`, /must be integer/],
    ['reliability 0', { targets: ['192.0.2.1'], reliability: 0 }, `${T}/reliability`, /must be >= 1/],
    ['no targets', { targets: [] }, `${T}/targets`, /must NOT have fewer than 1 items/],
    ['missing targets', { method: 'ping' }, T, /missing required property "targets"/],
    ['an unknown method', { method: 'icmp', targets: ['192.0.2.1'] }, `${T}/method`, /"icmp" is not allowed; use one of "ping", "tcp", "http", "dns"/],
    ['a status outside 100-599', { method: 'http', targets: ['http://192.0.2.80/'], expectStatus: [700] }, `${T}/expectStatus/0`, /must be <= 599/],
    ['a loss threshold above 100%', { targets: ['192.0.2.1'], quality: { failureLossPct: 101 } }, `${T}/quality/failureLossPct`, /must be <= 100/],
  ])('rejects %s', (_what, track, path, message) => {
    const issues = issuesOf(track);
    expect(issues.map((i) => i.path)).toContain(path);
    expect(issues.find((i) => i.path === path)?.message).toMatch(message);
  });

  it('reports every bad target and option of a track at once', () => {
    const issues = issuesOf({ method: 'tcp', targets: ['192.0.2.1', 'x_y:1', '192.0.2.3:22'], reliability: 4, expectStatus: [200], dnsName: 'a' });
    expect(issues.map((i) => i.path).sort()).toEqual([`${T}/dnsName`, `${T}/expectStatus`, `${T}/reliability`, `${T}/targets/0`, `${T}/targets/1`].sort());
  });

  it('reports each interface at its own path', () => {
    const c = configWith({ targets: ['192.0.2.1'] });
    (c.interfaces.wan2 as Record<string, unknown>).track = { method: 'tcp', targets: ['192.0.2.1'] };
    const r = validateConfig(c);
    expect(r.ok ? [] : r.issues.map((i) => i.path)).toEqual(['/interfaces/wan2/track/targets/0']);
  });

  describe('per family (track6)', () => {
    const dual = (iface: Record<string, unknown>) => {
      const r = validateConfig({
        interfaces: { ds: { device: 'eth1', gateway: '198.51.100.1', gateway6: 'auto', ...iface } },
        policies: { p: { members: [{ interface: 'ds' }] } },
        rules: [{ name: 'default', policy: 'p' }],
      });
      return r.ok ? [] : r.issues;
    };
    const D = '/interfaces/ds';

    it.each<[string, Record<string, unknown>]>([
      [
        'both with IPv4 track and IPv6 track6',
        { family: 'both', track: { targets: ['192.0.2.1'] }, track6: { method: 'tcp', targets: ['[2001:db8::1]:443'] } },
      ],
      ['both with mixed targets and no track6 (one state)', { family: 'both', track: { targets: ['192.0.2.1', '2001:db8::1'] } }],
      ['ipv6 tracking IPv6 targets', { family: 'ipv6', gateway: undefined, track: { method: 'http', targets: ['http://[2001:db8::80]/'] } }],
    ])('accepts %s', (_what, iface) => {
      expect(dual(iface)).toEqual([]);
    });

    it.each<[string, Record<string, unknown>, string, RegExp]>([
      ['track6 on an IPv4 WAN', { track6: { targets: ['2001:db8::1'] } }, `${D}/track6`, /only for family "both" \(family is "ipv4"\)/],
      [
        'an IPv4 target in track6',
        { family: 'both', track6: { targets: ['2001:db8::1', '192.0.2.1'] } },
        `${D}/track6/targets/1`,
        /"192\.0\.2\.1" is an IPv4 target, but track6 tracks IPv6: give an IPv6 one/,
      ],
      [
        'an IPv6 target in track beside track6',
        { family: 'both', track: { targets: ['2001:db8::2'] }, track6: { targets: ['2001:db8::1'] } },
        `${D}/track/targets/0`,
        /"2001:db8::2" is an IPv6 target, but with track6, track tracks IPv4: give an IPv4 one/,
      ],
      [
        'an IPv6 target on an IPv4 WAN',
        { track: { method: 'dns', targets: ['2001:db8::53'] } },
        `${D}/track/targets/0`,
        /is an IPv6 target, but family is "ipv4"/,
      ],
      [
        'an IPv4 target on an IPv6 WAN',
        { family: 'ipv6', gateway: undefined, track: { targets: ['192.0.2.1'] } },
        `${D}/track/targets/0`,
        /is an IPv4 target, but family is "ipv6"/,
      ],
      [
        'too few track6 targets for its reliability',
        { family: 'both', track6: { targets: ['2001:db8::1'], reliability: 2 } },
        `${D}/track6/reliability`,
        /reliability 2/,
      ],
    ])('rejects %s', (_what, iface, path, message) => {
      const issues = dual(iface);
      expect(issues.map((i) => i.path)).toContain(path);
      expect(issues.find((i) => i.path === path)?.message).toMatch(message);
    });
  });
});
