// The mwan3-equivalent ruleset the data-plane benchmark loads: mwan3's structure, probabilities from weights, one rule per user rule.
import { describe, expect, it } from 'vitest';
import { id2mask, mwan3Ruleset, pinAddress, statisticRules, type Mwan3Wan } from '../../scripts/bench/mwan3-iptables.js';

const wan = (k: number, weight?: number): Mwan3Wan => ({
  name: `wan${k}`,
  dev: `wan${k}`,
  id: k,
  gateway: `198.51.100.${8 * (k - 1) + 1}`,
  ...(weight === undefined ? {} : { weight }),
});
const three = [wan(1), wan(2), wan(3)];

const lines = (text: string) => text.split('\n');
const chainRules = (text: string, chain: string) => lines(text).filter((l) => l.startsWith(`-A ${chain} `));
const probabilities = (text: string) => chainRules(text, 'mwan3_policy_balanced').map((l) => /--probability (\S+)/.exec(l)?.[1] ?? 'rest');

describe('mwan3Ruleset', () => {
  it('spreads 1:1:1 as mwan3 does: 0.33333, 0.5, then the rest', () => {
    const { iptables } = mwan3Ruleset({ wans: three, rules: 0 });
    expect(probabilities(iptables)).toEqual(['0.33333', '0.50000', 'rest']);
    const marks = chainRules(iptables, 'mwan3_policy_balanced').map((l) => /--set-xmark (\S+)/.exec(l)?.[1]);
    expect(marks).toEqual(['0x300/0x3f00', '0x200/0x3f00', '0x100/0x3f00']);
    // Every member rule only marks what is still unmarked (MARK does not end the chain).
    for (const l of chainRules(iptables, 'mwan3_policy_balanced')) expect(l).toContain('-m mark --mark 0x0/0x3f00');
  });

  it('spreads 3:1 as 0.25 for the second member and the rest for the first', () => {
    const { iptables } = mwan3Ruleset({ wans: [wan(1, 3), wan(2, 1)], rules: 0 });
    expect(probabilities(iptables)).toEqual(['0.25000', 'rest']);
    expect(statisticRules([wan(1, 3), wan(2, 1)]).map((r) => [r.wan.name, r.probability])).toEqual([
      ['wan2', 0.25],
      ['wan1', null],
    ]);
  });

  it('has one iptables rule per user rule, then a final default jump to the balanced policy', () => {
    for (const n of [0, 1, 200, 1000]) {
      const { iptables, pinPolicy, defaultPolicy } = mwan3Ruleset({ wans: three, rules: n });
      const rules = chainRules(iptables, 'mwan3_rules');
      expect(rules).toHaveLength(n + 1);
      expect(rules.slice(0, n).every((l) => l.includes(`-j ${pinPolicy}`) && / -d 203\.0\.11[2-5]\.\d+\/32 /.test(l))).toBe(true);
      expect(rules.at(-1)).toMatch(new RegExp(`-d 0\\.0\\.0\\.0/0 .*-j ${defaultPolicy}$`));
    }
    const { iptables } = mwan3Ruleset({ wans: three, rules: 3 });
    expect(
      chainRules(iptables, 'mwan3_rules')
        .slice(0, 3)
        .map((l) => /-d (\S+)/.exec(l)?.[1]),
    ).toEqual(['203.0.112.0/32', '203.0.112.1/32', '203.0.112.2/32']);
  });

  it('hooks PREROUTING and OUTPUT: restore, classify the unmarked, save', () => {
    const { iptables } = mwan3Ruleset({ wans: three, rules: 2, connected: ['192.168.10.0/24'] });
    expect(lines(iptables)).toEqual(expect.arrayContaining(['*mangle', '-A PREROUTING -j mwan3_hook', '-A OUTPUT -j mwan3_hook', '*nat']));
    const hook = chainRules(iptables, 'mwan3_hook');
    expect(hook[0]).toBe('-A mwan3_hook -m mark --mark 0x0/0x3f00 -j CONNMARK --restore-mark --nfmask 0x3f00 --ctmask 0x3f00');
    const targets = hook.map((l) => /-j (\S+)/.exec(l)?.[1]);
    expect(targets.slice(1, 6)).toEqual(['mwan3_ifaces_in', 'mwan3_custom_ipv4', 'mwan3_connected_ipv4', 'mwan3_dynamic_ipv4', 'mwan3_rules']);
    expect(hook[6]).toBe('-A mwan3_hook -j CONNMARK --save-mark --nfmask 0x3f00 --ctmask 0x3f00');
    expect(chainRules(iptables, 'mwan3_iface_in_wan2').at(-1)).toContain('-i wan2 -m mark --mark 0x0/0x3f00');
    expect(chainRules(iptables, 'mwan3_iface_in_wan2').at(-1)).toMatch(/-j MARK --set-xmark 0x200\/0x3f00$/);
    expect(chainRules(iptables, 'mwan3_connected_ipv4')).toEqual(['-A mwan3_connected_ipv4 -d 192.168.10.0/24 -j MARK --set-xmark 0x3f00/0x3f00']);
    expect(chainRules(iptables, 'POSTROUTING')).toEqual(three.map((w) => `-A POSTROUTING -o ${w.dev} -j MASQUERADE`));
    // Every chain a rule jumps to is declared.
    const declared = new Set(
      lines(iptables)
        .filter((l) => l.startsWith(':'))
        .map((l) => l.slice(1).split(' ')[0]),
    );
    for (const l of lines(iptables).filter((x) => x.startsWith('-A '))) {
      const target = /-j (\S+)/.exec(l)?.[1] ?? '';
      if (target.startsWith('mwan3_')) expect(declared.has(target)).toBe(true);
    }
  });

  it('routes each mark through its own table with mwan3 priorities, and undoes it', () => {
    const { ipRules, ipUndo } = mwan3Ruleset({ wans: three, rules: 0, mirror: [{ dst: '192.168.10.0/24', dev: 'lan0' }] });
    const text = ipRules.map((a) => a.join(' '));
    expect(text).toEqual(
      expect.arrayContaining([
        '-4 rule add pref 1002 iif wan2 lookup 1002',
        '-4 rule add pref 2002 fwmark 0x200/0x3f00 lookup 1002',
        '-4 rule add pref 3002 fwmark 0x200/0x3f00 unreachable',
        '-4 route add 192.168.10.0/24 dev lan0 table 1002',
        '-4 route add default via 198.51.100.9 dev wan2 table 1002',
      ]),
    );
    expect(ipUndo.map((a) => a.join(' '))).toEqual(expect.arrayContaining(['-4 rule del pref 2003', '-4 route flush table 1003']));
  });

  it('spreads ids over the mask bits and keeps pins inside 203.0.112.0/22', () => {
    expect(id2mask(1, 0x3f00)).toBe(0x100);
    expect(id2mask(3, 0x3f00)).toBe(0x300);
    expect(id2mask(5, 0xf0f0)).toBe(0x50);
    expect(() => id2mask(64, 0x3f00)).toThrow(/does not fit/);
    expect(pinAddress(0)).toBe('203.0.112.0');
    expect(pinAddress(1023)).toBe('203.0.115.255');
    expect(() => pinAddress(1024)).toThrow();
  });
});
