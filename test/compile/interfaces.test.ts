// planInterfaces: each WAN's id, mark, table, gateways and state as the moment sees them.
import { describe, expect, it } from 'vitest';
import { planInterfaces } from '../../src/compile/interfaces.js';
import { DEFAULTS } from '../../src/model/defaults.js';
import { EMPTY_FACTS, type LinkState, type SystemFacts } from '../../src/model/facts.js';
import { layout, resolved } from './fixtures.js';

const two = (wan1: Record<string, unknown> = {}) =>
  resolved({
    interfaces: { wan1: { device: 'eth1', gateway: '192.0.2.1', ...wan1 }, wan2: { device: 'eth2', gateway: '198.51.100.1' } },
    policies: { p: { members: [{ interface: 'wan1' }, { interface: 'wan2' }] } },
  });

describe('planInterfaces', () => {
  it.each<[string, Record<string, unknown>, LinkState | undefined, { online: boolean; linkUp: boolean; gateway: string | null }]>([
    ['a WAN with no state counts as online', {}, undefined, { online: true, linkUp: true, gateway: '192.0.2.1' }],
    ['an offline WAN keeps its link and gateway but is not online', {}, 'offline', { online: false, linkUp: true, gateway: '192.0.2.1' }],
    ['a down WAN has neither link nor gateway', {}, 'down', { online: false, linkUp: false, gateway: null }],
    ['a disabled WAN is never online, whatever its state', { enabled: false }, 'online', { online: false, linkUp: false, gateway: null }],
  ])('%s', (_name, wan1, state, expected) => {
    const { interfaces } = planInterfaces(two(wan1), EMPTY_FACTS, state ? { wan1: state } : {}, layout);
    expect(interfaces.find((i) => i.name === 'wan1')).toMatchObject(expected);
  });

  it('gives ids in name order, with the mark and routing table of each id, sorted by id', () => {
    const config = resolved({
      interfaces: {
        zed: { device: 'eth9', gateway: '192.0.2.9' },
        alpha: { device: 'eth1', gateway: '192.0.2.1' },
        fixed: { device: 'eth5', gateway: '192.0.2.5', id: 5 },
      },
      policies: { p: { members: [{ interface: 'alpha' }] } },
    });
    const { interfaces, warnings } = planInterfaces(config, EMPTY_FACTS, {}, layout);
    expect(interfaces.map((i) => [i.name, i.id, i.mark, i.table])).toEqual([
      ['alpha', 1, layout.markOf(1), DEFAULTS.routeTableBase + 1],
      ['zed', 2, layout.markOf(2), DEFAULTS.routeTableBase + 2],
      ['fixed', 5, layout.markOf(5), DEFAULTS.routeTableBase + 5],
    ]);
    expect(warnings).toEqual([]);
  });

  it('keeps a previous id, and warns when an explicit id takes it away', () => {
    const kept = planInterfaces(two(), { ...EMPTY_FACTS, previousIds: { wan1: 7, wan2: 3 } }, {}, layout);
    expect(kept.interfaces.map((i) => [i.name, i.id])).toEqual([
      ['wan2', 3],
      ['wan1', 7],
    ]);
    const moved = planInterfaces(two({ id: 3 }), { ...EMPTY_FACTS, previousIds: { wan1: 7, wan2: 3 } }, {}, layout);
    expect(moved.warnings).toEqual([expect.stringMatching(/^interface wan2: id 3 -> \d+ .*its live connections lose their WAN$/)]);
  });

  it('takes an "auto" gateway from the main table, per family', () => {
    const config = two({ gateway: 'auto', family: 'both', gateway6: 'auto' });
    const facts: SystemFacts = { ...EMPTY_FACTS, autoGateways: { wan1: '192.0.2.254' }, autoGateways6: { wan1: 'fe80::1' } };
    expect(planInterfaces(config, facts, {}, layout).interfaces.find((i) => i.name === 'wan1')).toMatchObject({ gateway: '192.0.2.254', gateway6: 'fe80::1' });
  });

  it('installs a WAN with an "auto" gateway the main table does not have yet as down, with a warning naming its path', () => {
    const config = two({ gateway: 'auto' });
    const { interfaces, warnings } = planInterfaces(config, EMPTY_FACTS, {}, layout);
    expect(interfaces.find((i) => i.name === 'wan1')).toMatchObject({
      linkUp: false,
      online: false,
      gateway: null,
      waiting: expect.stringMatching(/device eth1/),
    });
    expect(warnings).toEqual([expect.stringMatching(/^\/interfaces\/wan1\/gateway: "auto" but .*device eth1.* installed down/)]);
    // The tracker already knows it is down: nothing to warn about.
    expect(planInterfaces(config, EMPTY_FACTS, { wan1: 'down' }, layout).warnings).toEqual([]);
  });

  const live: SystemFacts = {
    ...EMPTY_FACTS,
    devices: ['lo', 'eth1', 'eth2'],
    subnets: { eth1: ['192.0.2.0/24'], eth2: ['198.51.100.0/24'] },
    local: ['192.0.2.10'],
  };
  it.each<[string, Record<string, unknown>, Partial<SystemFacts>, RegExp | null]>([
    ['a WAN whose device exists and whose gateway is on its subnet is up', {}, {}, null],
    ['a device that does not exist (yet) makes its WAN down', { device: 'ppp0' }, {}, /^\/interfaces\/wan1\/device: device "ppp0" does not exist/],
    [
      'a gateway on no subnet of its device makes its WAN down',
      { gateway: '203.0.113.1' },
      {},
      /^\/interfaces\/wan1\/gateway: 203\.0\.113\.1 is on no subnet of device eth1/,
    ],
    ['a device with no address yet has no subnet: down', {}, { subnets: { eth2: ['198.51.100.0/24'] } }, /^\/interfaces\/wan1\/gateway: /],
    ['an on-link host route to the gateway is enough', { gateway: '203.0.113.1' }, { subnets: { eth1: ['203.0.113.1/32'], eth2: ['198.51.100.0/24'] } }, null],
  ])('%s', (_name, wan1, facts, warning) => {
    const { interfaces, warnings } = planInterfaces(two(wan1), { ...live, ...facts }, {}, layout);
    const wan = interfaces.find((i) => i.name === 'wan1');
    expect(wan).toMatchObject(warning ? { linkUp: false, online: false, gateway: null } : { linkUp: true, online: true });
    expect(warnings).toEqual(warning ? [expect.stringMatching(warning)] : []);
    expect(interfaces.find((i) => i.name === 'wan2')).toMatchObject({ linkUp: true, online: true, gateway: '198.51.100.1' });
  });

  it("refuses a gateway that is one of the router's own addresses, naming its path", () => {
    expect(() => planInterfaces(two({ gateway: '192.0.2.10' }), live, {}, layout)).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', issues: [expect.objectContaining({ path: '/interfaces/wan1/gateway' })] }),
    );
  });

  it.each([
    ['an IPv4 WAN takes only the IPv4 address', 'ipv4', { address: '192.0.2.10', address6: null }],
    ['an IPv6 WAN takes only the IPv6 address', 'ipv6', { address: null, address6: '2001:db8::10' }],
    ['a dual-stack WAN takes both', 'both', { address: '192.0.2.10', address6: '2001:db8::10' }],
  ])('%s', (_name, family, expected) => {
    const config = two(family === 'ipv6' ? { family, gateway: undefined, gateway6: 'fe80::1' } : { family });
    const facts: SystemFacts = { ...EMPTY_FACTS, addresses: { wan1: '192.0.2.10' }, addresses6: { wan1: '2001:db8::10' } };
    expect(planInterfaces(config, facts, {}, layout).interfaces.find((i) => i.name === 'wan1')).toMatchObject(expected);
  });
});
