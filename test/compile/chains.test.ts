// The table's skeleton: base chains, each target's mark/keep/inbound chains, the prerouting/output hooks, the classify head.
import { describe, expect, it } from 'vitest';
import {
  BASE_CHAINS,
  classifyHead,
  hookRules,
  markTargets,
  probePairs,
  probePairSets,
  probePairSetCommands,
  targetChainRules,
  type HookInput,
} from '../../src/compile/chains.js';
import type { ChainRule } from '../../src/compile/chain-collector.js';
import { BYPASS_SET, BYPASS_SET6, PROBE_PAIRS_SET, PROBE_PAIRS_SET6 } from '../../src/model/names.js';
import { layout, planned, resolved } from './fixtures.js';

const text = (rules: readonly ChainRule[], chain: string) => rules.filter((r) => r.chain === chain).map((r) => JSON.stringify(r.expr));

describe('base chains', () => {
  it('hook prerouting, output and postrouting at integer priorities (a string prio makes a hookless chain on nft 1.0.6)', () => {
    expect(BASE_CHAINS.map((c) => [c.name, c.base.hook, typeof c.base.prio])).toEqual([
      ['prerouting', 'prerouting', 'number'],
      ['output', 'output', 'number'],
      ['postrouting', 'postrouting', 'number'],
    ]);
  });
});

describe('mark targets and their chains', () => {
  const wan1 = planned('wan1', 1);
  const targets = markTargets([wan1], layout);

  it('are the enabled WANs, then the specials with their reserved marks', () => {
    expect(targets).toEqual([
      { name: 'wan1', mark: wan1.mark, device: 'dev1' },
      { name: '_default', mark: layout.special.default, device: undefined },
      { name: '_blackhole', mark: layout.special.blackhole, device: undefined },
      { name: '_unreachable', mark: layout.special.unreachable, device: undefined },
    ]);
  });

  it.each([
    ['a WAN gets an inbound, a mark and a keep chain, counting rx and tx', 'wan1', ['in_wan1', 'mark_wan1', 'keep_wan1', 'keep_wan1'], ['rx_wan1', 'tx_wan1']],
    ['a special gets a mark and a keep chain and no counter', '_blackhole', ['mark__blackhole', 'keep__blackhole'], []],
  ])('%s', (_name, target, chains, counters) => {
    const rules = targetChainRules(
      targets.filter((t) => t.name === target),
      layout,
    );
    expect(rules.map((r) => r.chain)).toEqual(chains);
    expect(rules.flatMap((r) => r.expr.flatMap((s) => ('counter' in s ? [s.counter] : [])))).toEqual(expect.arrayContaining(counters));
    expect(rules.every((r) => JSON.stringify(r.expr.at(-1)) === '{"accept":null}')).toBe(true);
  });

  it("a WAN's keep chain counts what arrives on its device as rx, before marking the rest", () => {
    const keep = targetChainRules(targets.slice(0, 1), layout).filter((r) => r.chain === 'keep_wan1');
    expect(keep[0]?.expr).toEqual([{ match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'dev1' } }, { counter: 'rx_wan1' }, { accept: null }]);
    expect(JSON.stringify(keep[1]?.expr)).toContain('"mangle"');
  });
});

/** The hooks' input for one WAN, wan1 (mark 1), without IPv6 or probe pairs unless `over` says. */
const wan1 = planned('wan1', 1);
const input = (over: Partial<HookInput> = {}): HookInput => ({
  targets: markTargets([wan1], layout),
  enabled: [wan1],
  layout,
  v6: false,
  gidBase: 1000,
  probePairs: [],
  probePairs6: [],
  probePairSets: [],
  ...over,
});

describe('prerouting and output', () => {
  it('output first lets neighbour discovery and related ICMP errors through, then what is marked, then restores', () => {
    const out = text(hookRules(input()), 'output');
    expect(out[0]).toContain('nd-neighbor-solicit');
    expect(out[1]).toContain('"related"');
    expect(out[2]).toContain('"!="');
    expect(out[3]).toContain('"vmap"');
  });

  it("restores a connection's mark through the keep chain of every target", () => {
    const restore = text(hookRules(input()), 'prerouting')[1] ?? '';
    for (const chain of ['keep_wan1', 'keep__default', 'keep__blackhole', 'keep__unreachable']) expect(restore).toContain(`"${chain}"`);
  });

  it.each([
    ['with a WAN, prerouting pins inbound connections by device and output follows group ids', [planned('wan1', 1)], true],
    ['without a WAN neither the iifname nor the skgid map exists', [], false],
  ])('%s', (_name, enabled, maps) => {
    const rules = hookRules(input({ enabled }));
    expect(text(rules, 'prerouting').some((r) => r.includes('"iifname"') && r.includes('"in_wan1"'))).toBe(maps);
    expect(text(rules, 'output').some((r) => r.includes('"skgid"'))).toBe(maps);
    expect(text(rules, 'prerouting').at(-1)).toContain('"classify"');
  });

  it("gives a WAN's `use` group id the WAN's mark chain", () => {
    const skgid = text(hookRules(input({ gidBase: 5000 })), 'output').find((r) => r.includes('skgid'));
    expect(skgid).toContain('[5001,{"goto":{"target":"mark_wan1"}}]');
  });

  it.each([
    ['without an IPv6 WAN only IPv4 goes to classify', false, true],
    ['with one, both families do', true, false],
  ])("the router's own NEW connections: %s", (_name, v6, ipv4Only) => {
    const last = text(hookRules(input({ v6 })), 'output').at(-1) ?? '';
    expect(last).toContain('"classify"');
    expect(last.includes('"nfproto"')).toBe(ipv4Only);
  });

  it("accepts the probes' address pairs in output, only when there are some", () => {
    const pair = { concat: ['192.0.2.10', '203.0.113.5'] };
    expect(text(hookRules(input({ probePairs: [pair] })), 'output').some((r) => r.includes('203.0.113.5'))).toBe(true);
    expect(text(hookRules(input()), 'output').some((r) => r.includes('"concat"'))).toBe(false);
  });

  it('accepts the IPv6 pairs in output with an ip6 match of their own', () => {
    const pair = { concat: ['2001:db8:1::10', '2001:db8:53::1'] };
    const out = text(hookRules(input({ probePairs6: [pair] })), 'output').filter((r) => r.includes('"concat"'));
    expect(out).toHaveLength(1);
    expect(out[0]).toContain('"ip6"');
    expect(out[0]).toContain('2001:db8:53::1');
  });
});

describe('probePairs', () => {
  const config = resolved({
    interfaces: {
      http: { device: 'eth1', gateway: '192.0.2.1', track: { method: 'http', targets: ['http://203.0.113.5/'] } },
      ping: { device: 'eth2', gateway: '192.0.2.2', track: { method: 'ping', targets: ['203.0.113.6'] } },
      none: { device: 'eth3', gateway: '192.0.2.3' },
    },
    policies: { p: { members: [{ interface: 'http' }] } },
  });

  it.each([
    ['an http probe from a known address gives its pair', planned('http', 1, { address: '192.0.2.10' }), [{ concat: ['192.0.2.10', '203.0.113.5'] }]],
    ['an http probe from an unknown address gives none', planned('http', 1), []],
    ["ping probes carry the WAN's mark already: none", planned('ping', 2, { address: '192.0.2.20' }), []],
    ['a WAN without tracking gives none', planned('none', 3, { address: '192.0.2.30' }), []],
  ])('%s', (_name, iface, expected) => {
    expect(probePairs(config, [iface])).toEqual(expected);
  });

  it("gives IPv6 targets (track and track6) as pairs with the WAN's IPv6 address, apart from the IPv4 ones", () => {
    const dual = resolved({
      interfaces: {
        ds: {
          device: 'eth1',
          gateway: '192.0.2.1',
          family: 'both',
          track: { method: 'tcp', targets: ['203.0.113.5:443'] },
          track6: { method: 'dns', targets: ['2001:db8:53::1'] },
        },
      },
      policies: { p: { members: [{ interface: 'ds' }] } },
    });
    const iface = planned('ds', 1, { family: 'both', address: '192.0.2.10', address6: '2001:db8:1::10' });
    expect(probePairs(dual, [iface])).toEqual([{ concat: ['192.0.2.10', '203.0.113.5'] }]);
    expect(probePairs(dual, [iface], 'ipv6')).toEqual([{ concat: ['2001:db8:1::10', '2001:db8:53::1'] }]);
    expect(probePairs(dual, [{ ...iface, address6: null }], 'ipv6')).toEqual([]);
  });
});

describe('host-name targets: the probe-pair set', () => {
  const config = resolved({
    interfaces: {
      tcp: { device: 'eth1', gateway: '192.0.2.1', track: { method: 'tcp', targets: ['203.0.113.5:443', 'www.example.net:443'] } },
      http: { device: 'eth2', gateway: '192.0.2.2', track: { method: 'http', targets: ['https://www.example.net/'] } },
      dns: { device: 'eth3', gateway: '192.0.2.3', track: { method: 'dns', targets: ['ns1.example.net'] } },
      ping: { device: 'eth4', gateway: '192.0.2.4', track: { method: 'ping', targets: ['one.one.one.one'] } },
      addr: { device: 'eth5', gateway: '192.0.2.5', track: { method: 'tcp', targets: ['203.0.113.6:22'] } },
      ds: {
        device: 'eth6',
        gateway: '192.0.2.6',
        family: 'both',
        track: { method: 'ping', targets: ['192.0.2.99'] },
        track6: { method: 'tcp', targets: ['www.example.net:443'] },
      },
      v6: { device: 'eth7', family: 'ipv6', track: { method: 'http', targets: ['http://www.example.net/'] } },
    },
    policies: { p: { members: [{ interface: 'tcp' }] } },
  });

  it('a name never becomes a compiled pair: only the address target of the same WAN does', () => {
    expect(probePairs(config, [planned('tcp', 1, { address: '192.0.2.10' })])).toEqual([{ concat: ['192.0.2.10', '203.0.113.5'] }]);
  });

  it.each([
    ['a tcp WAN with a name target', 'tcp', 1, true],
    ['an http WAN with a name in its URL', 'http', 2, true],
    ['a dns WAN whose server is a name', 'dns', 3, true],
    ["a ping WAN with a name: no (the echoes carry the WAN's mark)", 'ping', 4, false],
    ['a tcp WAN with addresses only: no', 'addr', 5, false],
  ])('needs the set: %s -> %s', (_name, iface, id, want) => {
    expect(probePairSets(config, [planned(iface, id)])).toEqual(want ? ['ipv4'] : []);
  });

  it.each([
    ['a dual-stack WAN whose track6 probes a name with tcp: the IPv6 set only', 'ds', 6, ['ipv6']],
    ['an IPv6-only WAN probing a name by http: the IPv6 set', 'v6', 7, ['ipv6']],
  ])('%s', (_name, iface, id, want) => {
    expect(probePairSets(config, [planned(iface, id)])).toEqual(want);
  });

  it('the output chain accepts what the set holds, only when the set is there', () => {
    const set = `"@${PROBE_PAIRS_SET}"`;
    expect(text(hookRules(input({ probePairSets: ['ipv4'] })), 'output').filter((r) => r.includes(set))).toEqual([
      JSON.stringify([
        {
          match: {
            op: '==',
            left: { concat: [{ payload: { protocol: 'ip', field: 'saddr' } }, { payload: { protocol: 'ip', field: 'daddr' } }] },
            right: `@${PROBE_PAIRS_SET}`,
          },
        },
        { accept: null },
      ]),
    ]);
    expect(text(hookRules(input()), 'output').some((r) => r.includes(set))).toBe(false);
    const set6 = `"@${PROBE_PAIRS_SET6}"`;
    const v6rules = text(hookRules(input({ probePairSets: ['ipv6'] })), 'output').filter((r) => r.includes(set6));
    expect(v6rules).toHaveLength(1);
    expect(v6rules[0]).toContain('"protocol":"ip6","field":"saddr"');
  });

  it('is declared as a timeout set of address pairs, never flushed (the daemon refreshes its pairs)', () => {
    expect(probePairSetCommands('t', ['ipv4', 'ipv6'])).toEqual([
      { add: { set: { family: 'inet', table: 't', name: PROBE_PAIRS_SET, type: ['ipv4_addr', 'ipv4_addr'], flags: ['timeout'] } } },
      { add: { set: { family: 'inet', table: 't', name: PROBE_PAIRS_SET6, type: ['ipv6_addr', 'ipv6_addr'], flags: ['timeout'] } } },
    ]);
    expect(probePairSetCommands('t', [])).toEqual([]);
  });
});

describe('classifyHead', () => {
  it.each([
    ['with an IPv6 WAN, IPv6 has its own bypass set', true, `@${BYPASS_SET6}`],
    ['without one, IPv6 is not balanced at all', false, '"nfproto"'],
  ])('%s', (_name, v6, second) => {
    const rules = classifyHead(v6);
    expect(rules.map((r) => r.chain)).toEqual(['classify', 'classify']);
    expect(JSON.stringify(rules[0]?.expr)).toContain(`@${BYPASS_SET}`);
    expect(JSON.stringify(rules[1]?.expr)).toContain(second);
  });
});
