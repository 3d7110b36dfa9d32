// Config validation: every kind of bad input is caught with its JSON path and what would be valid.
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/validate.js';
import { parseConfigText } from '../../src/config/load.js';

const base = () => ({
  interfaces: {
    wan1: { device: 'wan1', gateway: '198.51.100.1' } as Record<string, unknown>,
    wan2: { device: 'wan2', gateway: 'auto' } as Record<string, unknown>,
  },
  policies: {
    balanced: { members: [{ interface: 'wan1', weight: 3 }, { interface: 'wan2' }] } as Record<string, unknown>,
  },
  rules: [{ name: 'default', policy: 'balanced' }] as Record<string, unknown>[],
});
type Cfg = ReturnType<typeof base> & { globals?: Record<string, unknown> };

const issuesOf = (mutate: (c: Cfg) => void) => {
  const c: Cfg = base();
  mutate(c);
  const r = validateConfig(c);
  return r.ok ? [] : r.issues;
};

describe('validateConfig', () => {
  it('accepts the example config', () => {
    expect(validateConfig(base()).ok).toBe(true);
  });

  it.each<[string, (c: Cfg) => void, string, RegExp]>([
    [
      'an unknown interface in a policy',
      (c) => ((c.policies.balanced as { members: unknown[] }).members[1] = { interface: 'wan3' }),
      '/policies/balanced/members/1/interface',
      /unknown interface "wan3" \(interfaces: "wan1", "wan2"\)/,
    ],
    [
      'an unknown policy in a rule',
      (c) => (c.rules[0] = { name: 'x', policy: 'nope' }),
      '/rules/0/policy',
      /unknown policy "nope" \(policies: "balanced", "default", "unreachable", "blackhole"\)/,
    ],
    [
      'a duplicate explicit id',
      (c) => {
        c.interfaces.wan1.id = 4;
        c.interfaces.wan2.id = 4;
      },
      '/interfaces/wan2/id',
      /id 4 is already used by interface "wan1"/,
    ],
    ['a mark mask too small for the interfaces', (c) => (c.globals = { markMask: '0x3' }), '/globals/markMask', /room for 0 interface id/],
    [
      'an id outside the mask',
      (c) => {
        c.globals = { markMask: '0x700' };
        c.interfaces.wan1.id = 5;
      },
      '/interfaces/wan1/id',
      /does not fit the mark mask 0x700 \(ids 1-4\)/,
    ],
    [
      'a device name longer than 15 characters',
      (c) => (c.interfaces.wan1.device = 'averyveryverylongname'),
      '/interfaces/wan1/device',
      /at most 15 characters/,
    ],
    [
      'an interface name longer than 15 characters',
      (c) => (c.interfaces['wan_with_a_long_name'] = { device: 'x' }),
      '/interfaces/wan_with_a_long_name',
      /invalid name/,
    ],
    ['an invalid CIDR', (c) => (c.rules[0] = { name: 'r', destIp: ['10.0.0.0/33'], policy: 'balanced' }), '/rules/0/destIp/0', /not an IPv4 CIDR/],
    ['a CIDR with host bits', (c) => (c.rules[0] = { name: 'r', srcIp: ['10.0.0.1/8'], policy: 'balanced' }), '/rules/0/srcIp/0', /did you mean 10.0.0.0\/8/],
    [
      'a backwards address range',
      (c) => (c.rules[0] = { name: 'r', srcIp: ['10.0.0.9-10.0.0.1'], policy: 'balanced' }),
      '/rules/0/srcIp/0',
      /ends before it starts/,
    ],
    [
      'a backwards port range',
      (c) => (c.rules[0] = { name: 'r', proto: 'tcp', destPort: ['90-80'], policy: 'balanced' }),
      '/rules/0/destPort/0',
      /ends before it starts/,
    ],
    ['a port above 65535', (c) => (c.rules[0] = { name: 'r', proto: 'udp', destPort: ['70000'], policy: 'balanced' }), '/rules/0/destPort/0', /out of range/],
    [
      'ports without tcp or udp',
      (c) => (c.rules[0] = { name: 'r', proto: 'icmp', destPort: [80], policy: 'balanced' }),
      '/rules/0/destPort',
      /ports need "proto": "tcp" or "udp"/,
    ],
    ['a gateway that is not an address', (c) => (c.interfaces.wan1.gateway = 'router.lan'), '/interfaces/wan1/gateway', /not an IPv4 address or "auto"/],
    [
      'an unknown property',
      (c) => (c.interfaces.wan1.gw = '1.2.3.4'),
      '/interfaces/wan1',
      /unknown property "gw" \(allowed: device, gateway, id, enabled, track, track6, initialState, flushConntrack, family, gateway6, nat, snatAddress, nat6, npt6Prefix, snat6Address\)/,
    ],
    [
      'a bad lastResort',
      (c) => ((c.policies.balanced as Record<string, unknown>).lastResort = 'drop'),
      '/policies/balanced/lastResort',
      /use one of "unreachable", "blackhole", "default"/,
    ],
    [
      'a weight of zero',
      (c) => ((c.policies.balanced as { members: Record<string, unknown>[] }).members[0]!.weight = 0),
      '/policies/balanced/members/0/weight',
      /must be >= 1/,
    ],
    ['a malformed mark mask', (c) => (c.globals = { markMask: '3f00' }), '/globals/markMask', /not valid \(The firewall-mark bits/],
    ['a policy named like a reserved target', (c) => (c.policies['blackhole'] = { members: [{ interface: 'wan1' }] }), '/policies/blackhole', /invalid name/],
    ['a duplicate device', (c) => (c.interfaces.wan2.device = 'wan1'), '/interfaces/wan2/device', /already used by interface "wan1"/],
    ['a duplicate rule name', (c) => c.rules.push({ name: 'default', policy: 'balanced' }), '/rules/1/name', /used twice/],
    [
      'a table base that reaches the main table',
      (c) => (c.globals = { routeTableBase: 252 }),
      '/globals/routeTableBase',
      /table 253 \(interface id 1\) would collide with the default table/,
    ],
    [
      'a member listed twice',
      (c) => (c.policies.balanced as { members: unknown[] }).members.push({ interface: 'wan1' }),
      '/policies/balanced/members/2/interface',
      /already a member/,
    ],
  ])('rejects %s', (_what, mutate, path, message) => {
    const issues = issuesOf(mutate);
    expect(issues.map((i) => i.path)).toContain(path);
    expect(issues.find((i) => i.path === path)?.message).toMatch(message);
  });

  it('lists every problem at once, not just the first', () => {
    const issues = issuesOf((c) => {
      c.interfaces.wan1.device = 'averyveryverylongname';
      (c.policies.balanced as Record<string, unknown>).lastResort = 'drop';
    });
    expect(issues.map((i) => i.path).sort()).toEqual(['/interfaces/wan1/device', '/policies/balanced/lastResort']);
  });

  it('reports a JSON syntax error as CONFIG_SYNTAX with the parser message', () => {
    const r = parseConfigText('/etc/x.json', '{ "interfaces": ');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe('CONFIG_SYNTAX');
      expect(r.issues[0]?.message).toMatch(/JSON/);
    }
  });
});

describe('shipped files', () => {
  it('examples/config.json (the README config) is valid', async () => {
    const { loadConfig } = await import('../../src/config/load.js');
    const r = await loadConfig(new URL('../../examples/config.json', import.meta.url).pathname);
    expect(r.ok ? [] : r.issues).toEqual([]);
  });
});

describe('fileReason (config files, when running as root)', () => {
  it.each<[string, { uid: number; mode: number }, RegExp | null]>([
    ['root-owned 0644', { uid: 0, mode: 0o100644 }, null],
    ['root-owned 0600', { uid: 0, mode: 0o100600 }, null],
    ['world-writable', { uid: 0, mode: 0o100666 }, /writable by anyone \(mode 666\)/],
    ['group-writable', { uid: 0, mode: 0o100664 }, /writable by its group/],
    ['owned by another user', { uid: 1000, mode: 0o100644 }, /owned by uid 1000, not root/],
    ['a FIFO, whoever owns it', { uid: 0, mode: 0o010600 }, /not a regular file/],
  ])('%s', async (_what, st, want) => {
    const { fileReason } = await import('../../src/config/trusted-path.js');
    const got = fileReason(st);
    if (want === null) expect(got).toBeNull();
    else expect(got).toMatch(want);
  });

  it('anything goes when not running as root', async () => {
    const { untrustedReason } = await import('../../src/config/trusted-path.js');
    expect(await untrustedReason('/nonexistent/anything', 1000)).toBeNull();
  });
});
