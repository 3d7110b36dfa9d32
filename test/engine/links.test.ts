// Which WANs can carry traffic, and the bypass set's content, from one read of links and main tables (pure part).
import { describe, expect, it } from 'vitest';
import { usability } from '../../src/engine/links.js';
import { validateConfig } from '../../src/config/validate.js';
import type { ResolvedConfig } from '../../src/config/resolved.js';
import type { LinkInfo, MainRoute } from '../../src/system/ip.js';

function config(interfaces: Record<string, Record<string, unknown>>): ResolvedConfig {
  const v = validateConfig({
    interfaces,
    policies: { p: { members: Object.keys(interfaces).map((i) => ({ interface: i })) } },
    rules: [{ name: 'default', policy: 'p' }],
  });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return v.config;
}
const link = (carrier: boolean): LinkInfo => ({ carrier, operstate: carrier ? 'UP' : 'DOWN' });

describe('usability', () => {
  const c = config({ wan1: { device: 'eth1', gateway: 'auto' }, wan2: { device: 'eth2', gateway: '198.51.100.1' } });
  const main: MainRoute[] = [
    { dst: 'default', gateway: '192.0.2.1', dev: 'eth1' },
    { dst: '192.168.1.0/24', dev: 'lan' },
    { dst: '10.8.0.0/24', dev: 'tun0' },
    { dst: '203.0.113.0/24', dev: 'eth1', type: 'blackhole' },
  ];

  it.each([
    { case: 'both links up, an auto gateway with its default route', links: { eth1: true, eth2: true }, routes: main, wan1: true, wan2: true },
    { case: 'a link without carrier', links: { eth1: true, eth2: false }, routes: main, wan1: true, wan2: false },
    { case: 'a device that does not exist', links: { eth2: true }, routes: main, wan1: false, wan2: true },
    { case: 'gateway auto without a default route through it', links: { eth1: true, eth2: true }, routes: main.slice(1), wan1: false, wan2: true },
  ])('$case: wan1 $wan1, wan2 $wan2', ({ links, routes, wan1, wan2 }) => {
    const r = usability(c, new Map(Object.entries(links).map(([d, up]) => [d, link(up)])), routes, []);
    expect(Object.fromEntries(r.usable)).toEqual({ wan1, wan2 });
  });

  it('the bypass set: the specific unicast routes of both families, sorted; no default, no blackhole', () => {
    const r = usability(c, new Map(), main, [
      { dst: '2001:db8:1::/64', dev: 'lan' },
      { dst: 'default', dev: 'eth1', gateway: 'fe80::1' },
    ]);
    expect(r.bypass).toBe('10.8.0.0/24 192.168.1.0/24 2001:db8:1::/64');
  });

  it('an IPv6 WAN with gateway6 auto needs a default IPv6 route through its device', () => {
    const c6 = config({ wan1: { device: 'eth1', family: 'ipv6', gateway6: 'auto' } });
    const links = new Map([['eth1', link(true)]]);
    expect(usability(c6, links, [], []).usable.get('wan1')).toBe(false);
    expect(usability(c6, links, [], [{ dst: 'default', dev: 'eth1', gateway: 'fe80::1' }]).usable.get('wan1')).toBe(true);
  });

  it('the auto gateways: the lowest-metric default route of each "auto" device, so a DHCP renewal shows as a change', () => {
    const routes = (gw: string): MainRoute[] => [
      { dst: 'default', gateway: '192.0.2.99', dev: 'eth1', metric: 20100 },
      { dst: 'default', gateway: gw, dev: 'eth1', metric: 100 },
    ];
    expect(usability(c, new Map(), routes('192.0.2.1'), []).gateways).toBe('wan1=192.0.2.1');
    expect(usability(c, new Map(), routes('192.0.2.5'), []).gateways).toBe('wan1=192.0.2.5');
    expect(usability(c, new Map(), [], []).gateways).toBe('wan1=-');
  });
});
