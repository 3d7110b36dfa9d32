// The index of a verdict-map group's values: it answers "does this rule meet a value already in the group?" exactly
// as comparing with every earlier value would, whatever the order the rules come in.
import { describe, expect, it } from 'vitest';
import { DisjointIndex, type Interval } from '../../src/compile/classify-index.js';

const iv = (first: number, last = first): Interval => ({ first, last });
const big = (first: bigint, last = first): Interval => ({ first, last });
const meetsAny = (held: readonly Interval[], values: readonly Interval[]) => values.some((v) => held.some((h) => v.first <= h.last && h.first <= v.last));

/** A small deterministic generator (the same sequences on every run). */
function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

describe('DisjointIndex', () => {
  it.each<[string, Interval[], Interval[], boolean]>([
    ['an interval meets one it overlaps', [iv(10, 20)], [iv(15, 30)], true],
    ['an interval meets one sharing only its last point', [iv(10, 20)], [iv(20, 25)], true],
    ['an adjacent interval after does not meet', [iv(10, 20)], [iv(21, 25)], false],
    ['an adjacent interval before does not meet', [iv(10, 20)], [iv(0, 9)], false],
    ['an interval inside a held one meets it', [iv(10, 20)], [iv(12, 13)], true],
    ['an interval holding a held one meets it', [iv(10, 20)], [iv(0, 99)], true],
    ['a gap between two held intervals is free', [iv(0, 9), iv(30, 39)], [iv(10, 29)], false],
    ['one of several values meeting is enough', [iv(0, 9), iv(30, 39)], [iv(20, 21), iv(39, 50)], true],
    ['held values added out of order are found', [iv(30, 39), iv(0, 9), iv(15, 16)], [iv(16, 20)], true],
    ['a rule whose own values overlap is held merged', [iv(5, 8)], [iv(7, 7)], true],
    ['IPv6 bounds compare as big integers', [big(2n ** 100n, 2n ** 100n + 255n)], [big(2n ** 100n + 255n, 2n ** 101n)], true],
    ['IPv6 bounds just past a held one are free', [big(2n ** 100n, 2n ** 100n + 255n)], [big(2n ** 100n + 256n)], false],
  ])('%s', (_what, held, probe, meets) => {
    const index = new DisjointIndex();
    for (const h of held) index.addIntervals([h]);
    expect(index.meetsIntervals(probe)).toBe(meets);
    expect(meetsAny(held, probe)).toBe(meets);
  });

  it('a rule with several values, overlapping and adjacent, is held as their union', () => {
    const index = new DisjointIndex();
    index.addIntervals([iv(20, 30), iv(0, 5), iv(3, 10), iv(11, 12), iv(25, 26)]);
    // Points 0-12 and 20-30 are held; 13-19 and above 30 are free.
    for (let p = 0; p <= 40; p++) expect([p, index.meetsIntervals([iv(p)])]).toEqual([p, p <= 12 || (p >= 20 && p <= 30)]);
    expect(index.meetsIntervals([iv(13, 19)])).toBe(false);
  });

  it('names meet when one is shared', () => {
    const index = new DisjointIndex();
    index.addNames(['eth1', 'eth2']);
    expect([index.meetsNames(['eth3']), index.meetsNames(['eth3', 'eth2'])]).toEqual([false, true]);
  });

  it.each([
    ['ascending', 1],
    ['descending', 2],
    ['random', 3],
    ['random, narrow space', 4],
  ])('agrees with comparing every held value, rules added %s (adding only what meets nothing, as a group does)', (order, seed) => {
    const random = lcg(seed);
    const space = seed === 4 ? 300 : 20_000;
    const index = new DisjointIndex();
    const held: Interval[] = [];
    let added = 0;
    for (let i = 0; i < 1500; i++) {
      const at = order === 'ascending' ? i * 12 : order === 'descending' ? (1500 - i) * 12 : Math.floor(random() * space);
      const values = Array.from({ length: 1 + Math.floor(random() * 3) }, () => {
        const first = at + Math.floor(random() * 12);
        return iv(first, first + Math.floor(random() * (random() < 0.5 ? 1 : 14)));
      });
      const meets = meetsAny(held, values);
      expect(index.meetsIntervals(values)).toBe(meets);
      if (!meets) {
        index.addIntervals(values);
        held.push(...values);
        added++;
      }
    }
    // Enough rules went in for the order to matter.
    expect(added).toBeGreaterThan(seed === 4 ? 20 : 100);
  });
});
