// srcIp/destIp as ADDR/MASK with a dotted, possibly non-contiguous mask (iptables' -s 0.0.0.1/0.0.0.1): validated,
// compiled as `ip saddr & MASK == ADDR`, one rule each (no set holds it), and understood by explain.
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { explain } from '../../src/compile/explain.js';
import { validateConfig } from '../../src/config/validate.js';
import type { NftMwanConfig, Rule } from '../../src/generated/config.js';
import type { NftObject } from '../../src/model/json.js';

const base = (rules: Rule[]): NftMwanConfig => ({
  interfaces: { wan: { device: 'eth1', gateway: '192.0.2.1' }, wan2: { device: 'eth2', gateway: '198.51.100.1' } },
  policies: { wan_first: { members: [{ interface: 'wan' }] }, wan2_first: { members: [{ interface: 'wan2' }] } },
  rules,
});

const EVEN_ODD: Rule[] = [
  { name: 'even', proto: 'tcp', destPort: [443], srcIp: ['0.0.0.0/0.0.0.1'], policy: 'wan_first' },
  { name: 'odd', proto: 'tcp', destPort: [443], srcIp: ['0.0.0.1/0.0.0.1'], policy: 'wan2_first' },
];

function resolved(rules: Rule[]) {
  const v = validateConfig(base(rules));
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return v.config;
}

describe('address/mask in rules', () => {
  it.each([
    ['an address bit outside the mask', ['0.0.0.3/0.0.0.1'], 'ipv4', 'the address has bits outside its mask: it can never match'],
    ['another value in the same field', ['0.0.0.1/0.0.0.1', '10.0.0.0/8'], 'any', 'an address/mask (a.b.c.d/m.m.m.m) must be the only value of its field'],
    ['an IPv6 rule', ['0.0.0.1/0.0.0.1'], 'ipv6', 'an address/mask is IPv4 but the rule is "family": "ipv6"'],
  ] as const)('is refused with %s', (_what, srcIp, family, message) => {
    const v = validateConfig(base([{ name: 'r', srcIp: [...srcIp] as [string, ...string[]], family, policy: 'wan_first' }]));
    expect(v.ok ? [] : v.issues.map((i) => i.message)).toContain(message);
  });

  it('compiles each to its own rule, `ip saddr & MASK == ADDR`, in order', () => {
    const plan = compile(resolved(EVEN_ODD));
    const rules = plan.nft.nftables.flatMap((c) => {
      const r = (c as { add?: { rule?: NftObject } }).add?.rule;
      return r && typeof r.comment === 'string' && r.comment.startsWith('rule ') ? [r] : [];
    });
    expect(rules.map((r) => r.comment)).toEqual(['rule even', 'rule odd']);
    expect(rules.map((r) => (r.expr as unknown[])[0])).toEqual(
      ['0.0.0.0', '0.0.0.1'].map((addr) => ({ match: { op: '==', left: { '&': [{ payload: { protocol: 'ip', field: 'saddr' } }, '0.0.0.1'] }, right: addr } })),
    );
  });

  it.each([
    ['192.168.1.20', 'even', 'wan'],
    ['192.168.1.21', 'odd', 'wan2'],
  ])('explain sends source %s to rule %s (%s)', (src, rule, wan) => {
    const c = resolved(EVEN_ODD);
    const e = explain(c, compile(c), { src, dst: '203.0.113.7', proto: 'tcp', dport: 443 }, { bypass: [], local: [] });
    expect(e.rule).toBe(rule);
    expect(e.candidates.map((x) => x.interface)).toEqual([wan]);
  });
});
