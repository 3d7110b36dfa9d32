// Read-back verification: what nft lists is compared with what was applied, tolerating only listing noise.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { canonical, diffImages, imageOfBatch, imageOfListing, RuleImage } from '../../src/compile/verify.js';
import { batchRestoring } from '../../src/compile/restore.js';
import type { NftBatch } from '../../src/model/plan.js';

const batch = JSON.parse(readFileSync(new URL('../golden/issue-example/batch.json', import.meta.url), 'utf8')) as NftBatch;

/** What nft 1.0.6 lists for a batch: the same objects plus handles, metainfo, sets before chains. */
function listingOf(b: NftBatch): Record<string, unknown>[] {
  const items: Record<string, unknown>[] = [{ metainfo: { version: '1.0.6', json_schema_version: 1 } }];
  let handle = 1;
  const sets: Record<string, unknown>[] = [];
  const chains: Record<string, unknown>[] = [];
  const rules: Record<string, unknown>[] = [];
  const elems = new Map<string, unknown[]>();
  for (const cmd of b.nftables) {
    const [verb, body] = Object.entries(cmd)[0] as [string, Record<string, Record<string, unknown>>];
    const [kind, o] = Object.entries(body)[0] as [string, Record<string, unknown>];
    if (verb !== 'add') continue;
    if (kind === 'chain') chains.push({ chain: { ...o, handle: handle++ } });
    if (kind === 'set' || kind === 'map') {
      elems.set(o.name as string, []);
      sets.push({ [kind]: { ...o, handle: handle++ } });
    }
    if (kind === 'element') elems.get(o.name as string)?.push(...(o.elem as unknown[]));
    if (kind === 'rule') rules.push({ rule: { ...o, handle: handle++ } });
  }
  for (const s of sets) {
    const o = Object.values(s)[0] as Record<string, unknown>;
    const e = elems.get(o.name as string) ?? [];
    // nft lists a single flag as a string up to 1.1.4.
    if (Array.isArray(o.flags) && o.flags.length === 1) o.flags = o.flags[0];
    if (e.length > 0) o.elem = e;
  }
  return [...items, ...sets, ...chains, ...rules];
}

describe('verification of the table read back', () => {
  it('finds no difference when nft lists exactly what was applied (handles, order of sets and chains, flag forms aside)', () => {
    expect(diffImages(imageOfBatch(batch, 'nft_mwan'), imageOfListing(listingOf(batch)))).toEqual([]);
  });

  it.each<[string, (l: Record<string, unknown>[]) => void, RegExp]>([
    [
      'a missing rule',
      (l) =>
        l.splice(
          l.findIndex((i) => 'rule' in i),
          1,
        ),
      /rule 0: expected/,
    ],
    [
      'a base chain that lost its hook',
      (l) => delete (l.find((i) => 'chain' in i) as { chain: Record<string, unknown> }).chain.hook,
      /chain prerouting: expected/,
    ],
    [
      'a changed set element',
      (l) => ((l.find((i) => 'set' in i) as { set: { elem: unknown[] } }).set.elem[0] = '10.0.0.1'),
      /set bypass_v4: expected elements/,
    ],
    ['an extra chain', (l) => l.push({ chain: { family: 'inet', table: 'nft_mwan', name: 'intruder', handle: 99 } }), /unexpected chain intruder/],
  ])('reports %s', (_what, mutate, message) => {
    const listing = listingOf(batch);
    mutate(listing);
    const diff = diffImages(imageOfBatch(batch, 'nft_mwan'), imageOfListing(listing));
    expect(diff.join('\n')).toMatch(message);
  });
});

describe('batchRestoring', () => {
  it('recreates a listed table without handles, chains and sets before rules, in one transaction', () => {
    const restored = batchRestoring('inet', 'nft_mwan', listingOf(batch));
    const text = JSON.stringify(restored);
    expect(text).not.toContain('"handle"');
    expect(restored.nftables.slice(0, 3)).toEqual([
      { add: { table: { family: 'inet', name: 'nft_mwan' } } },
      { delete: { table: { family: 'inet', name: 'nft_mwan' } } },
      { add: { table: { family: 'inet', name: 'nft_mwan' } } },
    ]);
    const kinds = restored.nftables.slice(3).map((c) => Object.keys((c as { add: object }).add)[0]);
    expect(kinds.lastIndexOf('chain')).toBeLessThan(kinds.indexOf('rule'));
    // What it rebuilds verifies against the original plan.
    expect(diffImages(imageOfBatch(batch, 'nft_mwan'), imageOfBatch(restored, 'nft_mwan'))).toEqual([]);
  });

  it('only deletes the table when there was none before', () => {
    expect(batchRestoring('inet', 't', null).nftables).toEqual([
      { add: { table: { family: 'inet', name: 't' } } },
      { delete: { table: { family: 'inet', name: 't' } } },
    ]);
  });
});

describe('canonical', () => {
  // The definition: JSON with every object's keys sorted (undefined members left out) and the members of a `set`
  // array sorted by their own canonical text.
  const reference = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map((e) => reference(e)).join(',')}]`;
    if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
    const o = v as Record<string, unknown>;
    const parts = Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => {
        const x = o[k];
        const text =
          k === 'set' && Array.isArray(x)
            ? `[${x
                .map((e) => reference(e))
                .sort()
                .join(',')}]`
            : reference(x);
        return `${JSON.stringify(k)}:${text}`;
      });
    return `{${parts.join(',')}}`;
  };

  it.each<[string, unknown]>([
    ['a scalar', 'a"b'],
    ['null', null],
    ['an empty object and array', { b: [], a: {} }],
    ['keys out of order, one undefined first', { z: 1, a: undefined, m: [true, null, 'x'] }],
    ['a set reordered', { set: [{ prefix: { len: 24, addr: '10.0.0.0' } }, '10.0.0.1', '1.2.3.4'] }],
    ['a set array that is not a member list', { set: 'name', sets: ['b', 'a'] }],
    ['an undefined array member', [1, undefined, 2]],
  ])('%s: as the definition says', (_what, value) => {
    expect(canonical(value)).toBe(reference(value));
  });

  it('gives a verdict map the same text whatever order its members are listed in', () => {
    const entries = Array.from({ length: 50 }, (_, i) => [
      i % 3 ? `10.0.0.${i}` : { prefix: { addr: `10.${i}.0.0`, len: 16 } },
      { goto: { target: `t${i % 4}` } },
    ]);
    const rule = (list: unknown[]) => [{ vmap: { key: { payload: { protocol: 'ip', field: 'daddr' } }, data: { set: list } } }];
    expect(canonical(rule([...entries].reverse()))).toBe(canonical(rule(entries)));
    expect(canonical(rule(entries))).toBe(reference(rule(entries)));
  });
});

describe('RuleImage.canonical', () => {
  const expr = () => [
    { match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'gre' } },
    {
      vmap: {
        key: { payload: { protocol: 'ip', field: 'daddr' } },
        data: {
          set: [
            ['10.0.0.2', { goto: { target: 'b' } }],
            ['10.0.0.1', { goto: { target: 'a' } }],
          ],
        },
      },
    },
  ];

  it.each<[string, () => unknown[]]>([
    ['a statement list', expr],
    ['a frozen statement list (kept for the next comparison)', () => Object.freeze(expr())],
  ])('%s: keys sorted, l4proto names as numbers, set members sorted', (_what, make) => {
    const want = canonical({ comment: 'rule x', expr: JSON.parse(JSON.stringify(expr()).replace('"gre"', '47')) as unknown });
    const list = make();
    expect(new RuleImage({ expr: list, comment: 'rule x' }).canonical()).toBe(want);
    // A second image of the same frozen list (the read-back after the incremental batch) gives the same text.
    expect(new RuleImage({ expr: list, comment: 'rule x' }).canonical()).toBe(want);
    expect(new RuleImage({ expr: list }).canonical()).toBe(want.replace('"rule x"', 'null'));
  });

  it('a rule without statements has none in its canonical form', () => {
    expect(new RuleImage({ comment: 'c' }).canonical()).toBe(canonical({ comment: 'c' }));
  });
});
