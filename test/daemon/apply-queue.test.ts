// The apply queue: requests collapse into the attempts that cover them, waiters resolve after theirs, failures back off, a try holds it.
import { describe, expect, it } from 'vitest';
import { ApplyQueue, BACKOFF_MS, type ApplyQueueOptions } from '../../src/daemon/apply-queue.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

/** A queue whose attempts are resolved (or failed) by the test, one at a time. */
function harness(o: Partial<ApplyQueueOptions> = {}) {
  const attempts: { ok: () => void; fail: (e: Error) => void }[] = [];
  const waits: number[] = [];
  const lines: string[] = [];
  const failures: string[] = [];
  let idles = 0;
  const q = new ApplyQueue({
    attempt: () => new Promise<void>((ok, fail) => attempts.push({ ok, fail })),
    hold: async () => null,
    released: async () => undefined,
    failed: (e, attempt, waitMs) => failures.push(`${attempt} ${waitMs} ${e.message}`),
    idle: () => idles++,
    log: { info: (m) => lines.push(`info: ${m}`), warn: (m) => lines.push(`warn: ${m}`) },
    // Recorded, not slept: a macrotask only, so the test's ticks interleave with the queue's loop.
    sleep: (ms) => {
      waits.push(ms);
      return new Promise((r) => setTimeout(r, 0));
    },
    ...o,
  });
  return { q, attempts, waits, lines, failures, idles: () => idles };
}

describe('requests and waiters', () => {
  it('requests made during an attempt collapse into one more; each waiter resolves once an attempt started after it succeeded', async () => {
    const h = harness();
    let first = false;
    let second = false;
    void h.q.requestAndWait().then(() => (first = true));
    await tick();
    expect(h.attempts).toHaveLength(1);
    // Two requests while the first attempt runs: it does not cover them.
    void h.q.requestAndWait().then(() => (second = true));
    h.q.request();
    h.attempts[0]?.ok();
    await tick();
    expect(first).toBe(true);
    expect(second).toBe(false);
    expect(h.attempts).toHaveLength(2);
    h.attempts[1]?.ok();
    await tick();
    expect(second).toBe(true);
    expect(h.attempts).toHaveLength(2);
    expect(h.idles()).toBe(1);
  });
});

describe('failures: retried with growing waits, reset by a success', () => {
  it('waits 250 ms, 500 ms, 1 s ... up to 10 s; after a success the next failure waits 250 ms again', async () => {
    const h = harness();
    let done = false;
    void h.q.requestAndWait().then(() => (done = true));
    for (let i = 0; i < BACKOFF_MS.length + 1; i++) {
      await tick();
      h.attempts[i]?.fail(new Error(`boom ${i}`));
    }
    await tick();
    expect(done).toBe(false);
    expect(h.waits).toEqual([250, 500, 1_000, 2_000, 5_000, 10_000, 10_000]);
    expect(h.failures[0]).toBe('1 250 boom 0');
    expect(h.failures.at(-1)).toBe('7 10000 boom 6');
    h.attempts.at(-1)?.ok();
    await tick();
    expect(done).toBe(true);
    h.q.request();
    await tick();
    h.attempts.at(-1)?.fail(new Error('again'));
    await tick();
    expect(h.waits.at(-1)).toBe(250);
  });
});

describe('held while a try is pending', () => {
  it('no attempt while held; warned once; once released, `released` runs before the attempt', async () => {
    let hold: string | null = 'apply --try of x.json';
    const order: string[] = [];
    const h = harness({
      hold: async () => hold,
      released: async () => void order.push('released'),
    });
    h.q.request();
    for (let i = 0; i < 5; i++) await tick();
    expect(h.attempts).toHaveLength(0);
    expect(h.lines.filter((l) => l.startsWith('warn:'))).toEqual(['warn: apply --try of x.json: re-applies wait until it is confirmed or rolled back']);
    expect(h.waits.length).toBeGreaterThanOrEqual(3);
    hold = null;
    for (let i = 0; i < 3; i++) await tick();
    order.push(`attempts ${h.attempts.length}`);
    expect(order).toEqual(['released', 'attempts 1']);
    expect(h.lines).toContain('info: the try is decided: re-applies resume');
  });
});

describe('stop', () => {
  it('waits for the running attempt and starts none after it', async () => {
    const h = harness();
    h.q.request();
    await tick();
    h.q.request();
    let stopped = false;
    const stopping = h.q.stop().then(() => (stopped = true));
    await tick();
    expect(stopped).toBe(false);
    h.attempts[0]?.ok();
    await stopping;
    expect(h.attempts).toHaveLength(1);
  });
});
