// The intent journal: what an apply is about to change, written before it changes anything, so the next command can finish or undo it.
import { mkdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile, writeFileAtomicSync } from '../system/atomic-file.js';
import { batchRestoring } from '../compile/restore.js';
import { diffRouting } from '../compile/routing-diff.js';
import { diffPlan } from '../compile/verify.js';
import type { NftObject } from '../model/json.js';
import type { Logger } from '../model/logger.js';
import type { Plan } from '../model/plan.js';
import { applyRoutingOps } from '../system/ip.js';
import { applyBatch, listTable } from '../system/nft.js';
import type { Runner } from '../system/runner.js';
import { unwritable } from '../system/fs-errors.js';
import { readOwnedRouting, type OwnedRouting } from './discover.js';

export const INTENT_FILE = 'apply-intent.json';

export interface Intent {
  version: 1;
  pid: number;
  /** ms since the epoch. */
  at: number;
  /** The plan being installed (what "finished" means), and the state before it (what "undone" means). */
  plan: Pick<Plan, 'nft' | 'table' | 'dynamicSets' | 'stickySets' | 'routing'>;
  families: (4 | 6)[];
  snapshot: { listing: NftObject[] | null; routing: OwnedRouting };
}

/**
 * Written synchronously, like clearIntent: an apply waits for the journal before it changes anything, and the
 * few system calls cost less done at once than waiting a turn of the event loop each (a cold apply: ~1 ms).
 */
export async function writeIntent(dir: string, intent: Intent): Promise<void> {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeFileAtomicSync(join(dir, INTENT_FILE), JSON.stringify(intent), 0o600);
  return Promise.resolve();
}

/** writeIntent for an apply: a state filesystem that takes no write costs the crash record, not the apply (said so). */
export async function recordIntent(dir: string, log: Pick<Logger, 'warn'>, intent: Intent): Promise<void> {
  try {
    await writeIntent(dir, intent);
  } catch (e) {
    if (!unwritable(e)) throw e;
    log.warn(`cannot record the apply in ${dir} (${(e as Error).message}): a crash during this apply would go unrepaired`);
  }
}

export async function clearIntent(dir: string): Promise<void> {
  try {
    unlinkSync(join(dir, INTENT_FILE));
  } catch {
    // No journal: nothing to clear.
  }
  return Promise.resolve();
}

export async function readIntent(dir: string): Promise<Intent | null> {
  return (await readJsonFile(join(dir, INTENT_FILE))) as Intent | null;
}

/**
 * Called with the apply lock held: an intent left on disk is an apply that died (kill -9, power cut) or could
 * not undo its own failure. If its table made it in whole, its routing is finished; else the table and
 * routing from before it are put back. Either way the system is one whole state again. Returns what it did.
 */
export async function repairInterrupted(run: Runner, dir: string, log: Logger): Promise<'finished' | 'rolled back' | null> {
  const intent = await readIntent(dir);
  if (intent === null) return null;
  const { family, name } = intent.plan.table;
  const protocol = intent.plan.routing.protocol;
  const listing = await listTable(run, family, name);
  let outcome: 'finished' | 'rolled back';
  if (listing !== null && diffPlan(intent.plan, listing).length === 0) {
    const now = await readOwnedRouting(run, protocol, intent.families);
    const ops = diffRouting(now, intent.plan.routing);
    if (ops.add.length > 0) await applyRoutingOps(run, ops.add);
    if (ops.remove.length > 0) await applyRoutingOps(run, ops.remove);
    outcome = 'finished';
  } else {
    await applyBatch(run, batchRestoring(family, name, intent.snapshot.listing));
    const now = await readOwnedRouting(run, protocol, intent.families);
    const ops = diffRouting(now, { protocol, tables: [], rules: intent.snapshot.routing.rules, routes: intent.snapshot.routing.routes });
    if (ops.add.length > 0) await applyRoutingOps(run, ops.add);
    if (ops.remove.length > 0) await applyRoutingOps(run, ops.remove);
    outcome = 'rolled back';
  }
  await clearIntent(dir);
  log.warn(
    `an apply interrupted at ${new Date(intent.at).toISOString()} (pid ${intent.pid}) was ${outcome === 'finished' ? 'finished: its table was installed, its routing is now too' : 'rolled back: the table and routing from before it are back'}`,
  );
  return outcome;
}
