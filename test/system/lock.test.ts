// The apply lock between processes: one holder at a time, a dead holder's lock taken over, a reused pid not mistaken for its holder.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireLock, processStart } from '../../src/system/lock.js';

const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'nft-mwan-lock-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The pid of a process that has exited (spawnSync waits for it). */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid as number;

describe('apply lock', () => {
  it('lets a second taker in only after the first released, and names the holder while it waits', async () => {
    const dir = fresh();
    const events: string[] = [];
    const release = await acquireLock(dir, 'apply.lock');
    expect(JSON.parse(readFileSync(join(dir, 'apply.lock'), 'utf8'))).toEqual({ pid: process.pid, start: processStart(process.pid) });
    const second = acquireLock(dir, 'apply.lock', { waiting: (o) => events.push(`waiting for ${o?.pid}`) }).then((r) => {
      events.push('second holds');
      return r;
    });
    await new Promise((r) => setTimeout(r, 150));
    events.push('first releases');
    await release();
    await (
      await second
    )();
    expect(events).toEqual([`waiting for ${process.pid}`, 'first releases', 'second holds']);
    expect(existsSync(join(dir, 'apply.lock'))).toBe(false);
  });

  it('takes over the lock of a holder that died (kill -9 leaves the file)', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'apply.lock'), JSON.stringify({ pid: deadPid(), start: '1' }));
    const release = await acquireLock(dir, 'apply.lock', { timeoutMs: 2_000 });
    expect(JSON.parse(readFileSync(join(dir, 'apply.lock'), 'utf8')).pid).toBe(process.pid);
    await release();
  });

  it('does not take a live pid started at another time for the holder (the pid was reused)', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'apply.lock'), JSON.stringify({ pid: process.pid, start: 'not-this-start' }));
    const release = await acquireLock(dir, 'apply.lock', { timeoutMs: 2_000 });
    await release();
  });

  it('fails BUSY after its timeout while a live holder keeps it, leaving that lock alone', async () => {
    const dir = fresh();
    const mine = JSON.stringify({ pid: process.pid, start: processStart(process.pid) });
    writeFileSync(join(dir, 'apply.lock'), mine);
    await expect(acquireLock(dir, 'apply.lock', { timeoutMs: 200 })).rejects.toMatchObject({ code: 'BUSY' });
    expect(readFileSync(join(dir, 'apply.lock'), 'utf8')).toBe(mine);
  });
});
