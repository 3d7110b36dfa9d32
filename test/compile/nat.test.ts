// The postrouting chain: masquerade per family and IPv6 prefix translation.
import { describe, expect, it } from 'vitest';
import { natRules } from '../../src/compile/nat.js';
import { planned, resolved } from './fixtures.js';

const oifname = (devices: string | string[]) => ({
  match: { op: '==', left: { meta: { key: 'oifname' } }, right: Array.isArray(devices) ? { set: devices } : devices },
});
const nfproto = (family: string) => ({ match: { op: '==', left: { meta: { key: 'nfproto' } }, right: family } });

describe('natRules', () => {
  it.each<[string, Record<string, unknown>, unknown[][]]>([
    ['IPv4 WANs masquerade by default, one rule for all their devices', {}, [[nfproto('ipv4'), oifname(['dev1', 'dev2']), { masquerade: null }]]],
    ['a WAN with nat "none" is left out', { wan2: { nat: 'none' } }, [[nfproto('ipv4'), oifname('dev1'), { masquerade: null }]]],
    [
      'a dual-stack WAN masquerades IPv6 too',
      { wan1: { family: 'both', gateway6: 'fe80::1' } },
      [
        [nfproto('ipv4'), oifname(['dev1', 'dev2']), { masquerade: null }],
        [nfproto('ipv6'), oifname('dev1'), { masquerade: null }],
      ],
    ],
    [
      "npt translates the LAN prefix to the WAN's routed prefix",
      { wan1: { family: 'ipv6', gateway: undefined, gateway6: 'fe80::1', nat6: 'npt', npt6Prefix: '2001:db8:22::/64' }, wan2: { nat: 'none' } },
      [[oifname('dev1'), { snat: { family: 'ip6', addr: { prefix: { addr: '2001:db8:22::', len: 64 } }, flags: 'netmap', type_flags: 'prefix' } }]],
    ],
  ])('%s', (_name, over, expected) => {
    const raw = {
      interfaces: {
        wan1: { device: 'dev1', gateway: '192.0.2.1', ...(over.wan1 as object) },
        wan2: { device: 'dev2', gateway: '192.0.2.2', ...(over.wan2 as object) },
      },
      policies: { p: { members: [{ interface: 'wan1' }] } },
    };
    const config = resolved(raw);
    const enabled = [planned('wan1', 1, { family: config.interfaces.wan1?.family }), planned('wan2', 2)];
    const rules = natRules(config, enabled);
    expect(rules.every((r) => r.chain === 'postrouting')).toBe(true);
    expect(rules.map((r) => r.expr)).toEqual(expected);
  });

  it('has nothing to do without an enabled WAN', () => {
    const config = resolved({ interfaces: { wan1: { device: 'dev1', gateway: '192.0.2.1' } }, policies: { p: { members: [{ interface: 'wan1' }] } } });
    expect(natRules(config, [])).toEqual([]);
  });
});
