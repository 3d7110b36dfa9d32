// A lock between processes: a file created with link(2), holding the owner's pid and start time, taken over when its owner is gone.
import { link, mkdir, rename, rm, unlink, writeFile, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MwanError } from '../model/errors.js';
import { readJsonFile } from './atomic-file.js';

/*
 * Why this and not flock(2): Node has no flock, and holding one through a helper process (flock(1)) would cost
 * a fork per apply. link(2) of a fully written temporary file is atomic and fails when the lock exists, so
 * the lock file always holds its owner: there is no moment where a lock exists without a pid in it. A lock
 * whose owner died (kill -9) is recognised by its pid: gone, or reused by a process that started later
 * (the start time from /proc/PID/stat does not match). Taking over a dead owner's lock goes through a
 * second lock (`NAME.break`), so two processes that both found it dead cannot both take it.
 */

export interface Owner {
  pid: number;
  /** /proc/PID/stat field 22 (start time in clock ticks since boot): tells a reused pid from its owner. */
  start: string | null;
}

export interface LockOptions {
  /** Give up after this long (BUSY). */
  timeoutMs?: number;
  /** Told once when the lock is busy and this caller waits. */
  waiting?: (owner: Owner | null) => void;
}

export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing parenthesis.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** True while the owner (that very process, not a later one with its pid) is alive. */
export function ownerAlive(o: Owner): boolean {
  const now = processStart(o.pid);
  return now !== null && (o.start === null || now === o.start);
}

export async function readOwner(path: string): Promise<Owner | null> {
  const o = (await readJsonFile(path)) as Partial<Owner> | null;
  return typeof o?.pid === 'number' ? { pid: o.pid, start: typeof o.start === 'string' ? o.start : null } : null;
}

const POLL_MS = 25;
const BREAK_STALE_MS = 10_000;

/** Takes the lock file `dir/name`, waiting for its owner; returns its release. */
export async function acquireLock(dir: string, name: string, o: LockOptions = {}): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const path = join(dir, name);
  const me: Owner = { pid: process.pid, start: processStart(process.pid) };
  const tmp = join(dir, `${name}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    await writeFile(tmp, JSON.stringify(me), { mode: 0o600 });
  } catch (e) {
    // A full filesystem leaves the file created but empty: never a stray temp file.
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  const deadline = Date.now() + (o.timeoutMs ?? 120_000);
  let told = false;
  try {
    for (;;) {
      try {
        await link(tmp, path);
        return async () => {
          // Only ever our own lock: a stale-lock breaker never removes a live owner's.
          const now = await readOwner(path);
          if (now?.pid === me.pid && now.start === me.start) await unlink(path).catch(() => undefined);
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const owner = await readOwner(path);
      if (owner !== null && !ownerAlive(owner)) {
        await breakStale(dir, name, owner);
        continue;
      }
      if (!told) {
        told = true;
        o.waiting?.(owner);
      }
      if (Date.now() >= deadline) {
        throw new MwanError({
          code: 'BUSY',
          summary: `${path} is held by pid ${owner?.pid ?? '?'} (another apply, stop or try in this network namespace) for too long; nothing was changed`,
        });
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** Removes a dead owner's lock, unless someone else got there first and a live owner holds it by now. */
async function breakStale(dir: string, name: string, dead: Owner): Promise<void> {
  const breaker = join(dir, `${name}.break`);
  try {
    await mkdir(breaker);
  } catch {
    // Another process is breaking it; a breaker that died long ago is removed so the lock is not stuck.
    const age = Date.now() - ((await stat(breaker).catch(() => null))?.mtimeMs ?? Date.now());
    if (age > BREAK_STALE_MS) await rm(breaker, { recursive: true, force: true });
    return;
  }
  try {
    const path = join(dir, name);
    const now = await readOwner(path);
    if (now?.pid === dead.pid && now.start === dead.start) {
      const aside = `${path}.stale.${process.pid}`;
      await rename(path, aside);
      await unlink(aside);
    }
  } catch {
    // Gone already: the next round finds out.
  } finally {
    await rm(breaker, { recursive: true, force: true });
  }
}
