// SNAT to a fixed address per WAN (an HA pair's shared address): forwarded connections only, before masquerade, which
// still covers the router's own connections; an HA config without pinned ids is warned about.
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { validateConfig } from '../../src/config/validate.js';
import type { ResolvedConfig } from '../../src/config/resolved.js';
import { EMPTY_FACTS } from '../../src/model/facts.js';

function resolved(interfaces: Record<string, unknown>): ResolvedConfig {
  const v = validateConfig({ interfaces, policies: { p: { members: Object.keys(interfaces).map((i) => ({ interface: i })) } } });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return v.config;
}

const postrouting = (config: ResolvedConfig) =>
  compile(config, EMPTY_FACTS).nft.nftables.flatMap((c) => {
    const rule = (c.add as { rule?: { chain: string; expr: unknown[] } } | undefined)?.rule;
    return rule?.chain === 'postrouting' ? [rule.expr] : [];
  });

const forwarded = { match: { op: '!=', left: { fib: { result: 'type', flags: ['saddr'] } }, right: 'local' } };

describe('nat "snat"', () => {
  it('one SNAT rule per WAN for forwarded traffic, then the masquerade over every NATed WAN', () => {
    const config = resolved({
      wan1: { device: 'eth1', id: 1, nat: 'snat', snatAddress: '198.51.100.2' },
      wan2: { device: 'eth2', id: 2 },
      wan3: { device: 'eth3', id: 3, nat: 'none' },
    });
    expect(postrouting(config)).toEqual([
      [
        { match: { op: '==', left: { meta: { key: 'nfproto' } }, right: 'ipv4' } },
        { match: { op: '==', left: { meta: { key: 'oifname' } }, right: 'eth1' } },
        forwarded,
        { snat: { family: 'ip', addr: '198.51.100.2' } },
      ],
      [
        { match: { op: '==', left: { meta: { key: 'nfproto' } }, right: 'ipv4' } },
        { match: { op: '==', left: { meta: { key: 'oifname' } }, right: { set: ['eth1', 'eth2'] } } },
        { masquerade: null },
      ],
    ]);
    expect(compile(config, EMPTY_FACTS).warnings).toEqual([]);
  });

  it('IPv6 SNAT to snat6Address on a dual-stack WAN', () => {
    const rules = postrouting(resolved({ wan1: { device: 'eth1', id: 1, family: 'both', nat6: 'snat', snat6Address: '2001:db8:1::2', nat: 'none' } }));
    expect(rules[0]).toContainEqual({ snat: { family: 'ip6', addr: '2001:db8:1::2' } });
    expect(rules[0]).toContainEqual(forwarded);
    expect(rules[1]).toContainEqual({ masquerade: null });
  });

  it('warns when an HA config leaves ids to allocation', () => {
    const config = resolved({ wan1: { device: 'eth1', nat: 'snat', snatAddress: '198.51.100.2' }, wan2: { device: 'eth2', id: 2 } });
    expect(compile(config, EMPTY_FACTS).warnings).toEqual([expect.stringMatching(/interfaces wan1 have no pinned "id": an HA pair/)]);
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['snat without snatAddress', { device: 'eth1', nat: 'snat' }, '/interfaces/wan1/snatAddress', /needs snatAddress/],
    ['snatAddress without snat', { device: 'eth1', snatAddress: '198.51.100.2' }, '/interfaces/wan1/snatAddress', /only used with "nat": "snat"/],
    ['a multicast snatAddress', { device: 'eth1', nat: 'snat', snatAddress: '224.0.0.18' }, '/interfaces/wan1/snatAddress', /multicast/],
    ['an IPv6 snatAddress', { device: 'eth1', nat: 'snat', snatAddress: '2001:db8::1' }, '/interfaces/wan1/snatAddress', /not an IPv4 address/],
    ['snat6Address on an IPv4-only WAN', { device: 'eth1', snat6Address: '2001:db8::1' }, '/interfaces/wan1/snat6Address', /./],
  ])('refuses %s', (_what, iface, path, message) => {
    const v = validateConfig({ interfaces: { wan1: iface }, policies: { p: { members: [{ interface: 'wan1' }] } } });
    const issues = v.ok ? [] : v.issues;
    expect(issues.find((i) => i.path === path)?.message).toMatch(message);
  });
});
