// apply --try: a pending change with its snapshot on disk, a watchdog that outlives the terminal, and the rollback.
import { readFile, rename, unlink, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { batchRestoring } from '../compile/restore.js';
import { DEFAULTS } from '../compile/compile.js';
import type { NftMwanConfig } from '../generated/config.js';
import { MwanError } from '../errors.js';
import { applyBatch } from '../system/nft.js';
import type { Runner } from '../system/runner.js';
import { restoreRouting } from './apply.js';
import { discover, type OwnedRouting } from './discover.js';

export const TRY_FILE = 'try.json';

export interface TryRecord {
  version: 1;
  /** The `apply --try` process, and the detached watchdog that rolls back if it dies. */
  pid: number;
  watchdogPid: number | null;
  /** ms since the epoch: no confirmation by then means rollback. */
  deadline: number;
  configPath: string;
  table: { family: 'inet'; name: string };
  protocol: number;
  snapshot: { listing: Record<string, unknown>[] | null; routing: OwnedRouting };
}

/** Object kinds batchRestoring recreates; a table holding anything else could not be put back exactly. */
const RESTORABLE = new Set(['table', 'chain', 'rule', 'set', 'map', 'counter']);

export async function readTry(dir: string): Promise<TryRecord | null> {
  try {
    return JSON.parse(await readFile(join(dir, TRY_FILE), 'utf8')) as TryRecord;
  } catch {
    return null;
  }
}

export async function writeTry(dir: string, record: TryRecord): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const path = join(dir, TRY_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(record), { mode: 0o600 });
  await rename(tmp, path);
}

/**
 * Takes the pending try for one outcome. The rename is atomic: of the terminal, `confirm` and the
 * watchdog, exactly one gets the record; the others see null and leave it alone.
 */
export async function claimTry(dir: string, outcome: 'confirm' | 'rollback'): Promise<TryRecord | null> {
  const claimed = join(dir, `try.${outcome}.${process.pid}.json`);
  try {
    await rename(join(dir, TRY_FILE), claimed);
  } catch {
    return null;
  }
  const record = JSON.parse(await readFile(claimed, 'utf8')) as TryRecord;
  await unlink(claimed).catch(() => undefined);
  return record;
}

/** Reads what a rollback would restore, and refuses when it could not restore it exactly. */
export async function snapshotFor(run: Runner, config: NftMwanConfig): Promise<Pick<TryRecord, 'table' | 'protocol' | 'snapshot'>> {
  const g = config.globals ?? {};
  const d = await discover(run, config);
  const odd = (d.listing ?? []).map((o) => Object.keys(o)[0] ?? '?').filter((k) => !RESTORABLE.has(k));
  if (odd.length > 0) {
    throw new MwanError({
      code: 'TRY_REFUSED',
      summary: `cannot try: table inet ${g.table ?? DEFAULTS.table} holds objects a rollback could not recreate exactly (${[...new Set(odd)].join(', ')}); apply without --try, or remove them`,
    });
  }
  return {
    table: { family: 'inet', name: g.table ?? DEFAULTS.table },
    protocol: g.routeProtocol ?? DEFAULTS.routeProtocol,
    snapshot: { listing: d.listing, routing: d.routing },
  };
}

/** Puts the table and nft-mwan's routing back exactly as the snapshot has them. */
export async function rollback(run: Runner, r: TryRecord): Promise<void> {
  await applyBatch(run, batchRestoring(r.table.family, r.table.name, r.snapshot.listing));
  await restoreRouting(run, r.snapshot.routing, r.protocol);
}

export function killQuietly(pid: number | null): void {
  if (pid === null || pid === process.pid) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // Already gone.
  }
}
