// The table's objects besides chains: stale deletes, counters, the bypass, named and sticky sets, the id map.
import { describe, expect, it } from 'vitest';
import { addressElements, bypassTexts } from '../../src/compile/bypass.js';
import {
  bypassSetCommands,
  counterCommands,
  counterNames,
  idsMapCommands,
  namedSetCommands,
  plannedSets,
  staleDeletes,
  stickySetCommands,
} from '../../src/compile/objects.js';
import type { StickySet } from '../../src/compile/sticky.js';
import { EMPTY_FACTS, type SystemFacts } from '../../src/model/facts.js';
import type { NftCommand } from '../../src/model/plan.js';
import { planned, resolved } from './fixtures.js';

const ref = (name: string) => ({ family: 'inet', table: 't', name });
/** [verb, kind, name] of each command. */
const verbs = (commands: NftCommand[]) =>
  commands.map((c) => {
    const [verb, body] = Object.entries(c)[0] as [string, Record<string, { name: string }>];
    const [kind, obj] = Object.entries(body)[0] as [string, { name: string }];
    return [verb, kind, obj.name];
  });

describe('staleDeletes', () => {
  const planned = { chains: ['classify', 'mark_wan1'], sets: ['bypass_v4', 'vpn'], counters: ['rx_wan1', 'tx_wan1'] };
  it.each<[string, NonNullable<SystemFacts['installed']>, string[][]]>([
    ['nothing installed: nothing to delete', { chains: [], sets: [], maps: [] }, []],
    ['what the plan declares stays', { chains: ['classify'], sets: ['vpn'], maps: ['interface_ids'], counters: ['tx_wan1'] }, []],
    [
      'each kind the plan no longer has goes, chains, maps, sets, counters in that order',
      { chains: ['mark_wan9', 'classify'], sets: ['old', 'bypass_v4'], maps: ['interface_ids', 'legacy'], counters: ['rx_wan9'] },
      [
        ['delete', 'chain', 'mark_wan9'],
        ['delete', 'map', 'legacy'],
        ['delete', 'set', 'old'],
        ['delete', 'counter', 'rx_wan9'],
      ],
    ],
  ])('%s', (_name, installed, expected) => {
    expect(verbs(staleDeletes('t', installed, planned))).toEqual(expected);
  });

  it('deletes nothing when the facts know of no installed table', () => {
    expect(staleDeletes('t', undefined, planned)).toEqual([]);
  });
});

describe('planned sets and counters', () => {
  it.each([
    ['IPv4 only: the IPv4 bypass set, the named sets, the sticky sets', false, ['bypass_v4', 'vpn', 'sticky_web_wan1']],
    ['with an IPv6 WAN the IPv6 bypass set too', true, ['bypass_v4', 'bypass_v6', 'vpn', 'sticky_web_wan1']],
  ])('%s', (_name, v6, expected) => {
    const sets = { vpn: { type: 'ipv4_addr' as const, elements: [], timeout: undefined } };
    const sticky: StickySet[] = [{ name: 'sticky_web_wan1', type: 'ipv4_addr', timeout: 60, online: true }];
    expect(plannedSets(v6, sets, sticky)).toEqual(expected);
  });

  it('counts rx and tx per enabled WAN, added (an existing counter keeps its values)', () => {
    const names = counterNames([planned('wan1', 1), planned('wan2', 2)]);
    expect(names).toEqual(['rx_wan1', 'tx_wan1', 'rx_wan2', 'tx_wan2']);
    expect(counterCommands('t', names.slice(0, 1))).toEqual([{ add: { counter: ref('rx_wan1') } }]);
  });
});

describe('bypass sets', () => {
  const config = resolved({
    globals: { bypass: ['198.51.100.0/24'] },
    interfaces: { wan1: { device: 'eth1', gateway: '192.0.2.1' } },
    policies: { p: { members: [{ interface: 'wan1' }] } },
  });

  it("hold loopback, multicast, broadcast and link-local, the router's addresses, the main table's specifics and globals.bypass", () => {
    const facts: SystemFacts = { ...EMPTY_FACTS, local: ['192.0.2.10'], local6: ['2001:db8::10'], connected: ['10.0.0.0/8'], connected6: ['2001:db8:1::/64'] };
    expect(bypassTexts(config, facts)).toEqual(
      expect.arrayContaining([
        '127.0.0.0/8',
        '224.0.0.0/4',
        '255.255.255.255/32',
        '::1/128',
        'fe80::/10',
        'ff00::/8',
        '192.0.2.10',
        '2001:db8::10',
        '10.0.0.0/8',
        '2001:db8:1::/64',
        '198.51.100.0/24',
      ]),
    );
  });

  it.each([
    [
      'IPv4 keeps its own family and merges adjacent prefixes',
      'ipv4',
      ['10.0.0.0/25', '10.0.0.128/25', '2001:db8::/32'],
      [{ prefix: { addr: '10.0.0.0', len: 24 } }],
    ],
    ['IPv6 keeps its own family', 'ipv6', ['10.0.0.0/8', '2001:db8::/32'], [{ prefix: { addr: '2001:db8::', len: 32 } }]],
    ['a text that is no address is skipped', 'ipv4', ['router', '192.0.2.1'], ['192.0.2.1']],
  ] as const)('%s', (_name, family, texts, expected) => {
    expect(addressElements(family, texts)).toEqual(expected);
  });

  it.each([
    [
      'IPv4 only: the IPv4 set, emptied and refilled',
      false,
      [
        ['add', 'set', 'bypass_v4'],
        ['flush', 'set', 'bypass_v4'],
        ['add', 'element', 'bypass_v4'],
      ],
    ],
    [
      'with an IPv6 WAN the IPv6 set too',
      true,
      [
        ['add', 'set', 'bypass_v4'],
        ['flush', 'set', 'bypass_v4'],
        ['add', 'element', 'bypass_v4'],
        ['add', 'set', 'bypass_v6'],
        ['flush', 'set', 'bypass_v6'],
        ['add', 'element', 'bypass_v6'],
      ],
    ],
  ])('%s', (_name, v6, expected) => {
    expect(verbs(bypassSetCommands('t', ['192.0.2.0/24', '2001:db8::/32'], v6))).toEqual(expected);
  });

  it('adds no element command for an empty set', () => {
    expect(verbs(bypassSetCommands('t', ['2001:db8::/32'], false))).toEqual([
      ['add', 'set', 'bypass_v4'],
      ['flush', 'set', 'bypass_v4'],
    ]);
  });
});

describe('namedSetCommands', () => {
  it.each([
    [
      'a set without timeout is an interval set with its elements',
      { type: 'ipv4_addr', elements: ['10.0.0.1'] },
      [{ add: { set: { ...ref('s'), type: 'ipv4_addr', flags: ['interval'] } } }, { add: { element: { ...ref('s'), elem: ['10.0.0.1'] } } }],
    ],
    [
      'a set with a timeout carries it, and no element command when empty',
      { type: 'ipv6_addr', timeout: 60 },
      [{ add: { set: { ...ref('s'), type: 'ipv6_addr', flags: ['interval', 'timeout'], timeout: 60 } } }],
    ],
  ])('%s', (_name, set, expected) => {
    const config = resolved({
      interfaces: { wan1: { device: 'eth1', gateway: '192.0.2.1' } },
      policies: { p: { members: [{ interface: 'wan1' }] } },
      sets: { s: set },
    });
    expect(namedSetCommands('t', config.sets)).toEqual(expected);
  });
});

describe('stickySetCommands', () => {
  const set = (online: boolean): StickySet => ({ name: 'sticky_web_wan1', type: 'ipv4_addr', timeout: 60, online });
  it.each<[string, boolean, { type: unknown; timeout: number | null } | undefined, string[]]>([
    ['a set not installed yet is added', true, undefined, ['add']],
    ["an offline WAN's set not installed yet is added, not flushed", false, undefined, ['add']],
    ['an installed set of the same type and timeout is left as it is (its entries survive)', true, { type: 'ipv4_addr', timeout: 60 }, []],
    ["an offline WAN's installed set is flushed", false, { type: 'ipv4_addr', timeout: 60 }, ['flush']],
    ['a changed timeout replaces the set', true, { type: 'ipv4_addr', timeout: 30 }, ['delete', 'add']],
    ['a changed type replaces the set', false, { type: ['ipv4_addr', 'ipv4_addr'], timeout: 60 }, ['delete', 'add']],
  ])('%s', (_name, online, installed, expected) => {
    const commands = stickySetCommands('t', [set(online)], installed ? { sticky_web_wan1: installed } : {});
    expect(verbs(commands).map(([verb]) => verb)).toEqual(expected);
    if (expected.includes('add'))
      expect(commands.at(-1)).toEqual({ add: { set: { ...ref('sticky_web_wan1'), type: 'ipv4_addr', flags: ['timeout'], timeout: 60 } } });
  });
});

describe('idsMapCommands', () => {
  it("records each interface's id in the table itself, replacing what was there", () => {
    expect(idsMapCommands('t', [planned('wan1', 1), planned('wan2', 4, { enabled: false })])).toEqual([
      { add: { map: { ...ref('interface_ids'), type: 'ifname', map: 'mark' } } },
      { flush: { map: ref('interface_ids') } },
      {
        add: {
          element: {
            ...ref('interface_ids'),
            elem: [
              ['wan1', 1],
              ['wan2', 4],
            ],
          },
        },
      },
    ]);
  });
});
