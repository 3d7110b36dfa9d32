// planRouting: each WAN's table and default route, and the ip rules that lead marked traffic and its own address there.
import { describe, expect, it } from 'vitest';
import { planRouting } from '../../src/compile/routing.js';
import { layout, planned } from './fixtures.js';

const o = { priority: 1000, protocol: 77, v6: false };

describe('planRouting', () => {
  it('gives an IPv4 WAN a default route in its table, a fwmark lookup and an unreachable fallback, then the specials', () => {
    const wan1 = planned('wan1', 1);
    const routing = planRouting([wan1], layout, o);
    expect(routing.tables).toEqual([wan1.table]);
    expect(routing.routes).toEqual([{ family: 4, table: wan1.table, dst: 'default', gateway: '192.0.2.1', dev: 'dev1', protocol: 77 }]);
    const fw = (mark: number) => ({ family: 4, fwmark: mark, fwmask: layout.mask, protocol: 77 });
    expect(routing.rules).toEqual([
      { ...fw(wan1.mark), priority: 1001, action: 'lookup', table: wan1.table },
      { ...fw(wan1.mark), priority: 1002, action: 'unreachable' },
      { ...fw(layout.special.unreachable), priority: 1002, action: 'unreachable' },
      { ...fw(layout.special.blackhole), priority: 1002, action: 'blackhole' },
    ]);
  });

  it.each([
    ['a WAN whose link is down keeps its rules but has no route', planned('wan1', 1, { linkUp: false }), []],
    [
      "a point-to-point WAN's route has no gateway",
      planned('wan1', 1, { gateway: null }),
      [{ family: 4, table: 1001, dst: 'default', dev: 'dev1', protocol: 77 }],
    ],
  ])('%s', (_name, wan, routes) => {
    const routing = planRouting([wan], layout, o);
    expect(routing.routes).toEqual(routes);
    expect(routing.rules.filter((r) => r.fwmark === wan.mark).map((r) => r.action)).toEqual(['lookup', 'unreachable']);
  });

  it("routes what the router sends from a WAN's own address: the main table's specifics first, the WAN's table after the fwmark lookups", () => {
    const routing = planRouting([planned('wan1', 1, { address: '192.0.2.10' })], layout, o);
    expect(routing.rules.filter((r) => r.src !== undefined)).toEqual([
      { family: 4, src: '192.0.2.10/32', protocol: 77, priority: 1000, action: 'lookup', table: 'main', suppressPrefixLength: 0 },
      { family: 4, src: '192.0.2.10/32', protocol: 77, priority: 1002, action: 'lookup', table: 1001 },
    ]);
  });

  it.each([
    ['IPv4 only: no IPv6 rule at all', [planned('wan1', 1)], false, [4]],
    ['a dual-stack WAN: both families', [planned('wan1', 1, { family: 'both', gateway6: 'fe80::1' })], true, [4, 6]],
  ])('%s', (_name, enabled, v6, families) => {
    const routing = planRouting(enabled, layout, { ...o, v6 });
    expect([...new Set(routing.rules.map((r) => r.family))]).toEqual(families);
  });

  it('gives an IPv6-only WAN no IPv4 route or fwmark rule, only the IPv4 specials', () => {
    const wan = planned('wan6', 2, { family: 'ipv6', gateway: null, gateway6: 'fe80::1', address6: '2001:db8::2' });
    const routing = planRouting([wan], layout, { ...o, v6: true });
    expect(routing.routes).toEqual([{ family: 6, table: wan.table, dst: 'default', gateway: 'fe80::1', dev: 'dev2', protocol: 77 }]);
    expect(routing.rules.filter((r) => r.family === 4).map((r) => r.action)).toEqual(['unreachable', 'blackhole']);
    expect(routing.rules.some((r) => r.src === '2001:db8::2/128')).toBe(true);
  });
});
