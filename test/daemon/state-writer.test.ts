// The state writer: urgent writes soon, routine ones at most once a second, one at a time, the last one `running: false`.
import { describe, expect, it } from 'vitest';
import { StateWriter } from '../../src/daemon/state-writer.js';
import type { DaemonState } from '../../src/model/state.js';

const state = (running: boolean, n: number): DaemonState => ({
  version: 1,
  pid: 1,
  running,
  configPath: '/etc/nft-mwan/config.json',
  startedAt: 'start',
  updatedAt: String(n),
  interfaces: {},
  lastApply: null,
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function harness(writeMs = 0) {
  const written: { running: boolean; n: number }[] = [];
  const warnings: string[] = [];
  let n = 0;
  let inFlight = 0;
  let overlapped = false;
  const w = new StateWriter({
    dir: '/nonexistent',
    snapshot: (running) => state(running, ++n),
    log: { warn: (m) => warnings.push(m) },
    urgentMs: 10,
    routineMs: 200,
    write: async (_dir, s) => {
      inFlight++;
      if (inFlight > 1) overlapped = true;
      await sleep(writeMs);
      inFlight--;
      written.push({ running: s.running, n: Number(s.updatedAt) });
    },
  });
  return { w, written, warnings, overlapped: () => overlapped };
}

/** Waits for a condition with a deadline (a loaded machine runs short timers late, not never). */
async function until(done: () => boolean, timeoutMs = 5_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !done() && Date.now() < deadline;) await sleep(5);
}

describe('scheduling', () => {
  it('routine requests gather into one write after the routine delay; an urgent one cuts it short', async () => {
    const h = harness();
    h.w.schedule();
    h.w.schedule();
    await sleep(60);
    expect(h.written).toEqual([]);
    h.w.schedule(true);
    await until(() => h.written.length >= 1);
    expect(h.written).toHaveLength(1);
    await sleep(250);
    // The routine write was replaced, not added.
    expect(h.written).toHaveLength(1);
  });

  it('a routine request does not delay an urgent write already scheduled', async () => {
    const h = harness();
    h.w.schedule(true);
    h.w.schedule();
    await until(() => h.written.length >= 1);
    expect(h.written).toHaveLength(1);
  });
});

describe('stopping', () => {
  it('after stop nothing new is scheduled; final writes running false after the write in flight, never overlapping it', async () => {
    const h = harness(40);
    h.w.schedule(true);
    await sleep(20);
    h.w.stop();
    h.w.schedule(true);
    await h.w.final();
    expect(h.written.map((x) => x.running)).toEqual([true, false]);
    expect(h.overlapped()).toBe(false);
    await sleep(50);
    expect(h.written).toHaveLength(2);
  });

  it('a failed write is a warning, not an error thrown', async () => {
    const warnings: string[] = [];
    const w = new StateWriter({
      dir: '/x',
      snapshot: (running) => state(running, 0),
      log: { warn: (m) => warnings.push(m) },
      write: async () => {
        throw new Error('disk full');
      },
    });
    await w.final();
    expect(warnings).toEqual(['cannot write the state file in /x: disk full']);
  });

  it('a write failing again and again (a full filesystem) is said once, and its end too', async () => {
    const lines: string[] = [];
    let full = true;
    const w = new StateWriter({
      dir: '/x',
      snapshot: (running) => state(running, 0),
      log: { warn: (m) => lines.push(`warn: ${m}`), info: (m) => lines.push(`info: ${m}`) },
      urgentMs: 1,
      write: async () => {
        if (full) throw new Error('ENOSPC: no space left on device');
      },
    });
    for (let i = 0; i < 5; i++) {
      w.schedule(true);
      await sleep(10);
    }
    full = false;
    w.schedule(true);
    await sleep(10);
    await w.final();
    expect(lines).toEqual(['warn: cannot write the state file in /x: ENOSPC: no space left on device', 'info: the state file in /x is written again']);
  });
});
