// What discovery reads of the live system for check and apply to agree: subnets per device, foreign fwmark rules.
import { describe, expect, it } from 'vitest';
import { foreignIn, foreignRules, subnetsByDevice } from '../../src/engine/discover.js';
import type { ListedRule } from '../../src/system/ip.js';

describe('subnetsByDevice', () => {
  it('keeps the specific unicast routes of each device, a host route as /32', () => {
    expect(
      subnetsByDevice([
        { dst: 'default', gateway: '192.0.2.1', dev: 'eth1' },
        { dst: '192.0.2.0/24', dev: 'eth1', scope: 'link' },
        { dst: '203.0.113.1', dev: 'eth1', scope: 'link' },
        { dst: '10.0.0.0/8', dev: 'eth2', type: 'blackhole' },
        { dst: '198.51.100.0/24', dev: 'eth2' },
      ]),
    ).toEqual({ eth1: ['192.0.2.0/24', '203.0.113.1/32'], eth2: ['198.51.100.0/24'] });
  });
});

describe('foreignRules', () => {
  const rule = (r: Partial<ListedRule>): ListedRule => ({ family: 4, priority: 100, action: 'lookup', raw: {}, ...r });
  it.each<[string, Partial<ListedRule>, boolean]>([
    ['a foreign rule on bits of the mask is reported', { fwmark: 0x100, fwmask: 0xff00, protocol: 4 }, true],
    ['a foreign rule with no mask (all bits) is reported', { fwmark: 0x1 }, true],
    ["nft-mwan's own rules are not", { fwmark: 0x100, fwmask: 0xff00, protocol: 252 }, false],
    ['a rule on other bits is not', { fwmark: 0x10000, fwmask: 0xff0000 }, false],
    ['a rule without fwmark is not', { src: '10.0.0.0/8' }, false],
  ])('%s', (_name, r, reported) => {
    const out = foreignRules([rule(r)], 252, 0xff00);
    expect(out).toEqual(reported ? [expect.stringMatching(/^\/globals\/markMask: a foreign ip rule \(priority 100, IPv4\).*0xff00/)] : []);
  });
});

describe('foreignIn', () => {
  it("reports routes of another protocol in nft-mwan's tables, and nothing else", () => {
    const routes = [
      { dst: 'default', gateway: '192.0.2.1', dev: 'eth1', table: 1001, protocol: '252' },
      { dst: '10.0.0.0/8', dev: 'eth1', table: 1001, protocol: 'static' },
      { dst: '10.1.0.0/16', dev: 'eth2', table: 1100, protocol: 'boot' },
      { dst: '10.2.0.0/16', dev: 'eth2', table: 'main', protocol: 'boot' },
    ];
    expect(foreignIn(routes, 4, 252, { first: 1001, last: 1060 })).toEqual([
      expect.stringMatching(/^\/globals\/routeTableBase: a foreign IPv4 route \(10\.0\.0\.0\/8 dev eth1, proto static\) is in table 1001/),
    ]);
  });
});
