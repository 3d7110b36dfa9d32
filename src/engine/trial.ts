// apply --try: a pending change with its snapshot on disk, a watchdog that outlives the terminal, and the rollback.
import { createHash } from 'node:crypto';
import { readdir, readFile, rename, stat, unlink, utimes, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readJsonFile, writeFileAtomic } from '../system/atomic-file.js';
import { batchRestoring } from '../compile/restore.js';
import type { ResolvedConfig } from '../config/resolved.js';
import { MwanError } from '../model/errors.js';
import { applyBatch } from '../system/nft.js';
import type { Runner } from '../system/runner.js';
import { restoreRouting } from './apply.js';
import { discover, type OwnedRouting } from './discover.js';
import type { NftObject } from '../model/json.js';
import { processAlive } from '../system/process.js';
import type { Logger } from '../model/logger.js';
import { assertOwned } from './ownership.js';
import { serialized } from './serialize.js';

export const TRY_FILE = 'try.json';
/** The last decided try: the daemon reads it to follow a confirm or a rollback it did not see happen. */
export const TRY_OUTCOME_FILE = 'try-outcome.json';

export interface TryRecord {
  version: 1;
  /** The `apply --try` process, and the detached watchdog that rolls back if it dies. */
  pid: number;
  watchdogPid: number | null;
  /** ms since the epoch: no confirmation by then means rollback. */
  deadline: number;
  configPath: string;
  /** configHash() of the config tried: the daemon takes up the file only if it still holds this. */
  configHash: string;
  table: { family: 'inet'; name: string };
  protocol: number;
  snapshot: { listing: NftObject[] | null; routing: OwnedRouting };
  /**
   * The record of the config applied last as it was before this try (the file's text; null: none), put back by a
   * rollback, whoever makes it. Absent in records written before it existed.
   */
  appliedBefore?: string | null;
}

/** Object kinds batchRestoring recreates; a table holding anything else could not be put back exactly. */
const RESTORABLE = new Set(['table', 'chain', 'rule', 'set', 'map', 'counter']);

export interface TryOutcome {
  version: 1;
  outcome: 'confirm' | 'rollback';
  configPath: string;
  configHash: string;
  /** ms since the epoch. */
  at: number;
}

/** Identifies a config's content (as loaded and validated), not its file. */
export function configHash(config: ResolvedConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex');
}

export async function readTry(dir: string): Promise<TryRecord | null> {
  return (await readJsonFile(join(dir, TRY_FILE))) as TryRecord | null;
}

export async function writeTry(dir: string, record: TryRecord): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const path = join(dir, TRY_FILE);
  await writeFileAtomic(path, JSON.stringify(record), 0o600);
}

/**
 * Takes the pending try for one outcome. The rename is atomic: of the terminal, `confirm` and the
 * watchdog, exactly one gets the record; the others see null and leave it alone.
 */
export async function claimTry(dir: string, outcome: 'confirm' | 'rollback'): Promise<TryRecord | null> {
  const claimed = claimedPath(dir, outcome);
  try {
    await rename(join(dir, TRY_FILE), claimed);
  } catch {
    return null;
  }
  const record = JSON.parse(await readFile(claimed, 'utf8')) as TryRecord;
  // The claim's age is the rollback's (tryHold), not the try's.
  const now = new Date();
  await utimes(claimed, now, now).catch(() => undefined);
  // Written before the claim file goes: a daemon holding for the try never sees it decided without knowing how.
  const decided: TryOutcome = { version: 1, outcome, configPath: record.configPath, configHash: record.configHash, at: Date.now() };
  await writeFileAtomic(join(dir, TRY_OUTCOME_FILE), JSON.stringify(decided), 0o600);
  // A rollback keeps its claim (and so the daemon's hold) until settleTry, once the previous state is back.
  if (outcome === 'confirm') await settleTry(dir, 'confirm');
  return record;
}

/** Ends a claim: the daemon's hold is over. */
export async function settleTry(dir: string, outcome: 'confirm' | 'rollback'): Promise<void> {
  await unlink(claimedPath(dir, outcome)).catch(() => undefined);
}

export async function readTryOutcome(dir: string): Promise<TryOutcome | null> {
  return (await readJsonFile(join(dir, TRY_OUTCOME_FILE))) as TryOutcome | null;
}

/**
 * Why the daemon must not re-apply now, or null: a try is pending (its process or watchdog alive), or one
 * was claimed and its decider (alive) has not finished putting the previous state back.
 */
export async function tryHold(dir: string): Promise<string | null> {
  const pending = await pendingTry(dir);
  if (pending !== null) return `a try (pid ${pending.pid}) is pending`;
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const n of names) {
    const pid = /^try\.rollback\.(\d+)\.json$/.exec(n)?.[1];
    if (pid === undefined || !processAlive(Number(pid))) continue;
    // A rollback takes seconds: a claim this old belongs to a decider that died, its pid since reused.
    const age = Date.now() - ((await stat(join(dir, n)).catch(() => null))?.mtimeMs ?? 0);
    if (age < ROLLBACK_HOLD_MAX_MS) return `a try is being rolled back (pid ${pid})`;
  }
  return null;
}

const ROLLBACK_HOLD_MAX_MS = 60_000;

function claimedPath(dir: string, outcome: 'confirm' | 'rollback'): string {
  return join(dir, `try.${outcome}.${process.pid}.json`);
}

/** Reads what a rollback would restore, and refuses when it could not restore it exactly. */
export async function snapshotFor(run: Runner, config: ResolvedConfig): Promise<Pick<TryRecord, 'table' | 'protocol' | 'snapshot'>> {
  const g = config.globals;
  const d = await discover(run, config);
  assertOwned(d.listing, g.table);
  const odd = (d.listing ?? []).map((o) => Object.keys(o)[0] ?? '?').filter((k) => !RESTORABLE.has(k));
  if (odd.length > 0) {
    throw new MwanError({
      code: 'TRY_REFUSED',
      summary:
        `cannot try: table inet ${g.table} holds objects a rollback could not recreate exactly ` +
        `(${[...new Set(odd)].join(', ')}); apply without --try, or remove them`,
    });
  }
  return {
    table: { family: 'inet', name: g.table },
    protocol: g.routeProtocol,
    snapshot: { listing: d.listing, routing: d.routing },
  };
}

/** Puts the table and nft-mwan's routing back exactly as the snapshot has them, under the apply lock. */
export async function rollback(run: Runner, r: TryRecord, log: Logger, stateDir?: string): Promise<void> {
  await serialized(run, log, stateDir, async () => {
    await applyBatch(run, batchRestoring(r.table.family, r.table.name, r.snapshot.listing));
    await restoreRouting(run, r.snapshot.routing, r.protocol);
  });
}

export function killQuietly(pid: number | null): void {
  if (pid === null || pid === process.pid) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // Already gone.
  }
}

/**
 * The pending try, or null: its record is on disk and its process or its watchdog is alive. A record whose
 * processes are all gone is a try nobody will decide: a new try may take its place.
 */
export async function pendingTry(dir: string): Promise<TryRecord | null> {
  const r = await readTry(dir);
  if (r === null) return null;
  return processAlive(r.pid) || (r.watchdogPid !== null && processAlive(r.watchdogPid)) ? r : null;
}
