// Mark layout and stable id allocation.
import { describe, expect, it } from 'vitest';
import { allocateIds, markLayout } from '../../src/model/marks.js';

describe('markLayout', () => {
  it.each([
    [0x3f00, 1, 0x100],
    [0x3f00, 2, 0x200],
    [0x3f00, 60, 0x3c00],
    [0xff, 5, 0x5],
    // Non-contiguous masks spread the id's bits like mwan3 does.
    [0x0a0, 3, 0x0a0],
    [0x0a0, 1, 0x020],
  ])('with mask %s id %s is mark %s', (mask, id, mark) => {
    expect(markLayout(mask).markOf(id)).toBe(mark);
  });

  it('reserves the three highest values of the mask for default, blackhole and unreachable', () => {
    const l = markLayout(0x3f00);
    expect(l.special).toEqual({ default: 0x3f00, blackhole: 0x3e00, unreachable: 0x3d00 });
    expect(l.maxId).toBe(60);
    expect(l.markOf(l.maxId)).toBeLessThan(l.special.unreachable);
  });
});

describe('allocateIds', () => {
  const names = (...n: string[]) => n.map((name) => ({ name }));

  it('gives new interfaces ids in name order, whatever the config order', () => {
    const a = allocateIds(names('wanb', 'wana', 'wanc'), new Map(), 60);
    expect(Object.fromEntries(a.ids)).toEqual({ wana: 1, wanb: 2, wanc: 3 });
  });

  it('keeps the ids of surviving interfaces when others are reordered, added or removed', () => {
    const before = allocateIds(names('wan1', 'wan2', 'wan3'), new Map(), 60).ids;
    const after = allocateIds(names('wan3', 'new', 'wan2'), before, 60).ids;
    expect(after.get('wan2')).toBe(before.get('wan2'));
    expect(after.get('wan3')).toBe(before.get('wan3'));
    // wan1's retired id is not handed to the newcomer while others are free.
    expect(after.get('new')).toBe(4);
  });

  it('lets an explicit id win and reports the interface it displaced', () => {
    const a = allocateIds([{ name: 'a', explicitId: 1 }, { name: 'b' }], new Map([['b', 1]]), 60);
    expect(a.ids.get('a')).toBe(1);
    expect(a.ids.get('b')).toBe(2);
    expect(a.moved).toEqual([expect.objectContaining({ name: 'b', from: 1, to: 2 })]);
  });

  it('reuses a retired id only when nothing else is free', () => {
    const a = allocateIds(names('x', 'y'), new Map([['old', 1]]), 2);
    expect([...a.ids.values()].sort()).toEqual([1, 2]);
  });

  it('stays fast with a 32-bit mask', () => {
    const l = markLayout(0xffffffff);
    expect(allocateIds(names('a'), new Map(), l.maxId).ids.get('a')).toBe(1);
  });
});
