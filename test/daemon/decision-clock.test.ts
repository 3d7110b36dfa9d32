// The decision clock: the time from the trackers' decision to the apply that lands it, across failed applies.
import { describe, expect, it } from 'vitest';
import { DecisionClock } from '../../src/daemon/decision-clock.js';

function clockAt(start: number) {
  const t = { now: start };
  return { t, clock: new DecisionClock(() => t.now) };
}

describe('DecisionClock', () => {
  it('an apply takes the oldest decision not yet taken; the next apply starts afresh', () => {
    const { t, clock } = clockAt(100);
    clock.decided();
    t.now = 105;
    clock.decided();
    expect(clock.take()).toBe(100);
    expect(clock.take()).toBeNull();
  });

  it('a decision made while an apply runs is timed by the next apply', () => {
    const { t, clock } = clockAt(10);
    clock.decided();
    const first = clock.take();
    t.now = 20;
    clock.decided();
    expect([first, clock.take()]).toEqual([10, 20]);
  });

  it('a failed apply puts its decision back, older than one made meanwhile', () => {
    const { t, clock } = clockAt(10);
    clock.decided();
    const taken = clock.take();
    t.now = 30;
    clock.decided();
    clock.putBack(taken);
    expect(clock.take()).toBe(10);
  });

  it('says how long ago, and nothing for an apply no state change asked for', () => {
    const { t, clock } = clockAt(0);
    t.now = 42.25;
    expect(clock.since(40)).toBe(', 2.3 ms after the state change');
    expect(clock.since(null)).toBe('');
  });
});
