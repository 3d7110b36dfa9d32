// One apply at a time per network namespace: every change to the table and routing runs under the apply lock, after repairing an interrupted one.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from '../model/logger.js';
import { acquireLock } from '../system/lock.js';
import { unwritable } from '../system/fs-errors.js';
import type { Runner } from '../system/runner.js';
import { defaultStateDir } from '../system/runtime-dir.js';
import { repairInterrupted } from './journal.js';

export const LOCK_FILE = 'apply.lock';

/** The lock directories this async call chain holds: a nested serialized() (try -> apply) runs straight on. */
const held = new AsyncLocalStorage<ReadonlySet<string>>();

export interface Serialized {
  /** The state directory holding the lock and the intent journal. */
  dir: string;
  /** What the repair of an interrupted apply did (null: there was none): the caller's knowledge is stale then. */
  repaired: 'finished' | 'rolled back' | null;
}

/**
 * Runs `fn` holding the apply lock of `dir` (default: this namespace's state directory). Other processes'
 * applies, stops, tries and rollbacks wait; so do other calls of this process outside `fn`'s call chain.
 */
export async function serialized<T>(run: Runner, log: Logger, dir: string | undefined, fn: (s: Serialized) => Promise<T>): Promise<T> {
  const d = dir ?? defaultStateDir();
  if (held.getStore()?.has(d)) return fn({ dir: d, repaired: null });
  let release: () => Promise<void>;
  try {
    release = await acquireLock(d, LOCK_FILE, {
      waiting: (owner) => {
        log.info(`waiting for another apply (pid ${owner?.pid ?? '?'}) to finish`);
      },
    });
  } catch (e) {
    // A state filesystem that takes no write (full, read-only) must not stop a failover: apply unlocked, and say so.
    if (!unwritable(e)) throw e;
    log.warn(`cannot take the apply lock in ${d} (${(e as Error).message}): applying without it`);
    release = () => Promise.resolve();
  }
  try {
    return await held.run(new Set([...(held.getStore() ?? []), d]), async () => {
      const repaired = await repairInterrupted(run, d, log);
      return fn({ dir: d, repaired });
    });
  } finally {
    await release();
  }
}
