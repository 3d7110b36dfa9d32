// The ablation benchmark's variants: nft-mwan's listed table with one part taken out, and nothing else.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ablationVariants, summarise, withoutParts, type AblationRow } from '../../scripts/bench/ablation.js';
import type { PacketCost } from '../../scripts/bench/profile.js';

type Obj = Record<string, Record<string, unknown>>;

/** What `nft -j list table` prints for a golden batch: its added objects, each with a handle. */
function listing(golden: string): { nftables: Obj[] } {
  const batch = JSON.parse(readFileSync(new URL(`../golden/${golden}/batch.json`, import.meta.url), 'utf8')) as { nftables: Record<string, Obj>[] };
  const added = batch.nftables.flatMap((c) => (c.add ? [c.add] : []));
  return {
    nftables: [{ metainfo: { version: '1.0.6' } }, ...added.map((o, i) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, { ...v, handle: i + 1 }])))],
  };
}

const adds = (batch: unknown) => (batch as { nftables: Record<string, Obj>[] }).nftables.map((c) => c.add as Obj);
const rules = (batch: unknown) => adds(batch).flatMap((o) => (o.rule ? [o.rule as { chain: string; expr: Record<string, unknown>[] }] : []));
const text = (x: unknown) => JSON.stringify(x);

describe('withoutParts', () => {
  const full = listing('dual-stack');
  const listedRules = full.nftables.filter((o) => o.rule).length;

  it('with nothing removed, adds exactly what was listed, without handles', () => {
    const b = withoutParts(full, []);
    expect((b as { nftables: Record<string, unknown>[] }).nftables.every((c) => Object.keys(c).join() === 'add')).toBe(true);
    expect(adds(b)[0]).toEqual({ table: { family: 'inet', name: 'nft_mwan' } });
    expect(adds(b)).toHaveLength(full.nftables.length - 1);
    expect(text(b)).not.toContain('"handle"');
    expect(rules(b)).toHaveLength(listedRules);
  });

  it('without the bypass, drops the bypass rules of both families in classify, and only those', () => {
    const b = withoutParts(full, ['bypass']);
    expect(rules(b)).toHaveLength(listedRules - 2);
    expect(text(rules(b))).not.toContain('@bypass_v');
    // The sets themselves stay (other commands may refer to them); only the lookups go.
    expect(
      adds(b)
        .filter((o) => o.set)
        .map((o) => o.set?.name),
    ).toEqual(expect.arrayContaining(['bypass_v4', 'bypass_v6']));
  });

  it('without inbound pinning, drops prerouting iifname map and keeps the keep chains iifname matches', () => {
    const b = withoutParts(full, ['inbound']);
    expect(rules(b)).toHaveLength(listedRules - 1);
    expect(
      rules(b)
        .filter((r) => r.chain === 'prerouting')
        .some((r) => text(r).includes('iifname')),
    ).toBe(false);
    expect(rules(b).some((r) => r.chain.startsWith('keep_') && text(r).includes('iifname'))).toBe(true);
  });

  it('without counters, strips every counter statement and keeps the rules and the counter objects', () => {
    const b = withoutParts(full, ['counters']);
    expect(rules(b)).toHaveLength(listedRules);
    expect(rules(b).some((r) => r.expr.some((s) => 'counter' in s))).toBe(false);
    expect(adds(b).filter((o) => o.counter)).toHaveLength(full.nftables.filter((o) => o.counter).length);
    // The rest of a counted rule is untouched: mark_X still sets both marks and accepts.
    const mark = rules(b).find((r) => r.chain.startsWith('mark_') && !r.chain.startsWith('mark__'));
    expect(mark?.expr.map((s) => Object.keys(s)[0])).toEqual(['mangle', 'mangle', 'accept']);
  });

  it('fails when a part is not where it looks, instead of measuring a variant that removed nothing', () => {
    const noBypass = { nftables: adds(withoutParts(full, ['bypass'])) };
    expect(() => withoutParts(noBypass, ['bypass'])).toThrow(/no bypass set/);
    expect(() => withoutParts({ nftables: [] }, [])).toThrow(/no table nft_mwan/);
  });

  it('gives the complete table first and the floor last', () => {
    const vs = ablationVariants(full, 'table inet bench_floor {}');
    expect(vs.map((v) => v.name)).toEqual(['complete', 'no bypass set', 'no inbound pinning', 'no per-WAN counters', 'none of the three', 'mark-floor']);
    expect(vs.at(-2)?.removed).toEqual(['bypass', 'inbound', 'counters']);
    expect(vs.at(-1)?.ruleset).toEqual({ text: 'table inet bench_floor {}' });
  });
});

describe('summarise', () => {
  const cost = (chains: number, total: number): PacketCost =>
    ({ totalUs: total, samples: 1000, us: { filterChains: chains, nat: 0, conntrack: 0, policyRules: 0, routing: 0, rest: total - chains } }) as PacketCost;
  const rows: AblationRow[] = [
    { name: 'complete', removed: [], pps: [100, 110, 90], cost: [cost(1.5, 10), cost(1.6, 10.4), cost(1.4, 9.6)] },
    { name: 'no bypass set', removed: ['bypass'], pps: [103, 114, 92], cost: [cost(1.2, 9.8), cost(1.3, 10.0), cost(1.2, 9.4)] },
  ];

  it('reads each variant against the complete table in the same round, then takes the median', () => {
    const [ref, nb] = summarise(rows);
    expect(ref?.ppsVsComplete).toBe(1);
    expect(ref?.chainsVsCompleteUs).toBe(0);
    // Rounds: 1.03, 1.036, 1.022 -> 1.03; chains -0.3, -0.3, -0.2 -> -0.3; whole path -0.2, -0.4, -0.2 -> -0.2.
    expect(nb?.ppsVsComplete).toBeCloseTo(1.03, 6);
    expect(nb?.chainsUs).toBeCloseTo(1.2, 6);
    expect(nb?.chainsVsCompleteUs).toBeCloseTo(-0.3, 6);
    expect(nb?.totalVsCompleteUs).toBeCloseTo(-0.2, 6);
  });

  it('leaves out the CPU figures when the run was not profiled', () => {
    const [, nb] = summarise(rows.map(({ cost: _c, ...r }) => r));
    expect(nb).toEqual({ name: 'no bypass set', removed: ['bypass'], ppsVsComplete: expect.closeTo(1.03, 6) as number });
  });
});
