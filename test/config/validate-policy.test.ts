// The policy language's bad inputs: each reported at its JSON path, saying what would be valid.
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/validate.js';
import { compile } from '../../src/compile/compile.js';
import { explain } from '../../src/compile/explain.js';

const base = (): Record<string, unknown> => ({
  interfaces: {
    wan1: { device: 'wan1', gateway: '198.51.100.1' },
    wan2: { device: 'wan2', family: 'both', gateway: '198.51.100.9', gateway6: '2001:db8:2::1' },
  },
  sets: { known: { type: 'ipv4_addr', elements: ['192.0.2.0/24'] }, known6: { type: 'ipv6_addr', elements: ['2001:db8:ff::/48'] } },
  policies: { p: { members: [{ interface: 'wan1' }, { interface: 'wan2' }] } },
  rules: [] as unknown[],
});

const issues = (rules: unknown[], patch: (c: Record<string, unknown>) => void = () => undefined) => {
  const c = base();
  c.rules = rules;
  patch(c);
  const r = validateConfig(c);
  return r.ok ? [] : r.issues;
};

describe('policy language validation', () => {
  it.each<[string, unknown[], string, RegExp]>([
    ['a port on an icmp rule', [{ name: 'r', proto: 'icmp', destPort: [80], policy: 'p' }], '/rules/0/destPort', /ports need "proto": "tcp" or "udp"/],
    [
      'an IPv6 CIDR in an ipv4-only rule',
      [{ name: 'r', family: 'ipv4', destIp: ['2001:db8::/32'], policy: 'p' }],
      '/rules/0/destIp/0',
      /is an IPv6 address but the rule is "family": "ipv4"/,
    ],
    ['a sticky rule on a blackhole policy', [{ name: 'r', sticky: true, policy: 'blackhole' }], '/rules/0/sticky', /needs a policy with members/],
    ['an unknown set', [{ name: 'r', set: 'nope', policy: 'p' }], '/rules/0/set', /unknown set "nope" \(sets: "known", "known6"\)/],
    ['icmpv6 in an ipv4 rule', [{ name: 'r', family: 'ipv4', proto: 'icmpv6', policy: 'p' }], '/rules/0/proto', /icmpv6 does not exist in ipv4/],
    ['stickyTimeout without sticky', [{ name: 'r', stickyTimeout: 30, policy: 'p' }], '/rules/0/stickyTimeout', /only takes effect with "sticky": true/],
    [
      'a broken IPv6 CIDR',
      [{ name: 'r', destIp: ['2001:db8::1/64'], policy: 'p' }],
      '/rules/0/destIp/0',
      /has host bits set \(did you mean 2001:db8::\/64\?\)/,
    ],
    [
      'an ipv6_addr set in an ipv4-only rule',
      [
        { name: 'ok', policy: 'p' },
        { name: 'r', family: 'ipv4', set: 'known6', policy: 'p' },
      ],
      '/rules/1/set',
      /^set "known6" holds ipv6_addr, but the rule is ipv4-only \("family": "ipv4"\)$/,
    ],
    [
      'an ipv4_addr set in an ipv6-only rule',
      [{ name: 'r', family: 'ipv6', set: 'known', policy: 'p' }],
      '/rules/0/set',
      /^set "known" holds ipv4_addr, but the rule is ipv6-only \("family": "ipv6"\)$/,
    ],
    [
      'an ipv6_addr set in an icmp rule',
      [{ name: 'r', proto: 'icmp', set: 'known6', policy: 'p' }],
      '/rules/0/set',
      /holds ipv6_addr, but the rule is ipv4-only \("proto": "icmp"\)/,
    ],
    [
      'an ipv4_addr set in an icmpv6 rule',
      [{ name: 'r', proto: 'icmpv6', set: 'known', policy: 'p' }],
      '/rules/0/set',
      /holds ipv4_addr, but the rule is ipv6-only \("proto": "icmpv6"\)/,
    ],
    [
      'an ipv6_addr set in a rule from IPv4 sources only',
      [{ name: 'r', srcIp: ['192.168.1.0/24'], set: 'known6', policy: 'p' }],
      '/rules/0/set',
      /holds ipv6_addr, but the rule is ipv4-only \(its srcIp addresses are all IPv4\)/,
    ],
    [
      'an ipv4_addr set in a rule from IPv6 sources only',
      [{ name: 'r', srcIp: ['2001:db8:10::/64'], set: 'known', policy: 'p' }],
      '/rules/0/set',
      /holds ipv4_addr, but the rule is ipv6-only \(its srcIp addresses are all IPv6\)/,
    ],
  ])('%s', (_what, rules, path, message) => {
    const found = issues(rules);
    expect(found).toContainEqual({ path, message: expect.stringMatching(message) });
  });

  it.each<[string, Record<string, unknown>]>([
    ['an ipv6_addr set in a rule of either family', { set: 'known6' }],
    ['an ipv6_addr set in an ipv6 rule', { set: 'known6', family: 'ipv6' }],
    ['an ipv4_addr set in an "any" rule', { set: 'known', family: 'any' }],
    ['an ipv6_addr set in a rule whose sources hold both families', { set: 'known6', srcIp: ['192.168.1.0/24', '2001:db8:10::/64'] }],
    ['an ipv4_addr set in a tcp rule from IPv4 sources', { set: 'known', proto: 'tcp', srcIp: ['192.168.1.0/24'] }],
  ])('accepts %s', (_what, rule) => {
    expect(issues([{ name: 'r', policy: 'p', ...rule }])).toEqual([]);
  });

  it('IPv6 settings on an IPv4-only interface, and npt without its prefix', () => {
    expect(issues([], (c) => ((c.interfaces as Record<string, Record<string, unknown>>).wan1!.gateway6 = '2001:db8::1'))).toContainEqual({
      path: '/interfaces/wan1/gateway6',
      message: expect.stringMatching(/IPv6 settings on an interface with "family": "ipv4"/),
    });
    expect(issues([], (c) => ((c.interfaces as Record<string, Record<string, unknown>>).wan2!.nat6 = 'npt'))).toContainEqual({
      path: '/interfaces/wan2/npt6Prefix',
      message: expect.stringMatching(/needs npt6Prefix/),
    });
  });

  it('an IPv6 rule when no interface carries IPv6', () => {
    const found = issues([{ name: 'r', destIp: ['2001:db8::/32'], policy: 'p' }], (c) => {
      (c.interfaces as Record<string, Record<string, unknown>>).wan2 = { device: 'wan2', gateway: '198.51.100.9' };
    });
    expect(found).toContainEqual({ path: '/rules/0/destIp/0', message: expect.stringMatching(/no interface carries IPv6/) });
  });
});

describe('explain for IPv6 flows', () => {
  it('uses the IPv6 view of a policy: only members that carry IPv6', () => {
    const c = base();
    c.rules = [
      { name: 'v6', destIp: ['2001:db8:ff::/48'], policy: 'p' },
      { name: 'rest', policy: 'p' },
    ];
    const v = validateConfig(c);
    if (!v.ok) throw new Error(JSON.stringify(v.issues));
    const plan = compile(v.config);
    const e6 = explain(v.config, plan, { src: '2001:db8:10::2', dst: '2001:db8:ff::10', proto: 'tcp', dport: 443 }, { bypass: [], local: [] });
    expect(e6.rule).toBe('v6');
    expect(e6.candidates).toEqual([expect.objectContaining({ interface: 'wan2', probability: 1 })]);
    const e4 = explain(v.config, plan, { src: '192.168.10.2', dst: '203.0.113.9', proto: 'tcp', dport: 443 }, { bypass: [], local: [] });
    expect(e4.rule).toBe('rest');
    expect(e4.candidates.map((x) => x.interface)).toEqual(['wan1', 'wan2']);
  });
});
