// Adapter around `nft -j`: apply a batch as one transaction from a file, list and delete tables.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NftBatch } from '../model/plan.js';
import { commandLine, runChecked, type Runner } from './runner.js';
import { MwanError } from '../model/errors.js';
import type { NftObject } from '../model/json.js';

/**
 * Watches nft commits: given the pid of an nft process about to commit, a promise that resolves once its
 * commit is seen (the daemon's `nft monitor`), or null when it cannot be watched.
 */
export type CommitWatch = (pid: number) => Promise<void> | null;

/** A transaction under way. */
export interface Transaction {
  /**
   * Resolves once the kernel has committed the batch: as soon as the watch sees the commit, else when nft
   * exits. nft's exit comes some 10 ms later, while the kernel finishes the commit's cleanup; the table is
   * final before that. Rejects when nft fails first.
   */
  committed: Promise<void>;
  /** nft has exited: resolves when it succeeded, rejects with its error. Always to be awaited. */
  done: Promise<void>;
}

/**
 * Applies (or with `check`, only checks: the kernel runs the transaction and aborts it) a batch.
 * Always from a file: nft 1.0.6 exits 0 and applies nothing when stdin holds unparseable JSON.
 */
export function startBatch(run: Runner, batch: NftBatch, o: { check?: boolean; watch?: CommitWatch } = {}): Transaction {
  let seen: Promise<void> | null = null;
  let spawned: () => void = () => undefined;
  const spawn = new Promise<void>((resolve) => (spawned = resolve));
  const done = (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nft-mwan-'));
    const file = join(dir, 'batch.json');
    try {
      await writeFile(file, JSON.stringify(batch), { mode: 0o600 });
      const args = ['-j', ...(o.check ? ['-c'] : []), '-f', file];
      const onSpawn = (pid: number) => {
        seen = o.check ? null : (o.watch?.(pid) ?? null);
        spawned();
      };
      await runChecked(run, o.check ? 'nft rejected the batch (check only, nothing changed)' : 'nft rejected the batch (one transaction)', 'nft', args, {
        onSpawn,
      });
    } finally {
      spawned();
      await rm(dir, { recursive: true, force: true });
    }
  })();
  const committed = spawn.then(() => (seen ? Promise.race([seen, done]) : done));
  // A caller that awaits `done` alone must not leave this rejection unhandled.
  committed.catch(() => undefined);
  return { committed, done };
}

export async function applyBatch(run: Runner, batch: NftBatch, o: { check?: boolean } = {}): Promise<void> {
  await startBatch(run, batch, o).done;
}

export async function listTables(run: Runner): Promise<{ family: string; name: string }[]> {
  const r = await runChecked(run, 'cannot list nftables tables', 'nft', ['-j', 'list', 'tables']);
  return nftItems(r.stdout)
    .filter((i) => 'table' in i)
    .map((i) => {
      const t = i.table as NftObject;
      return { family: String(t.family), name: String(t.name) };
    });
}

/** The table's objects as `nft -j list table` gives them, or null when there is no such table. */
export async function listTable(run: Runner, family: string, name: string): Promise<NftObject[] | null> {
  // One nft call when the table is there (every apply); only a failure asks which tables exist, so an
  // absent table is told from a real error without reading nft's message.
  const args = ['-j', 'list', 'table', family, name];
  const r = await run('nft', args);
  if (r.exitCode === 0) return nftItems(r.stdout).filter((i) => !('metainfo' in i));
  const tables = await listTables(run);
  if (!tables.some((t) => t.family === family && t.name === name)) return null;
  throw new MwanError({
    code: 'COMMAND_FAILED',
    summary: `cannot list table ${family} ${name}`,
    command: commandLine('nft', args),
    exitCode: r.exitCode,
    stderr: r.stderr,
  });
}

/**
 * Some chains of a table as `nft -j list chain` gives them, one nft per chain (nft 1.0.6 lists only the last
 * of several chains asked for in one run), all at once; null when one of them cannot be listed.
 */
export async function listChains(run: Runner, family: string, table: string, names: readonly string[]): Promise<NftObject[] | null> {
  const listed = await Promise.all(names.map((name) => run('nft', ['-j', 'list', 'chain', family, table, name])));
  if (listed.some((r) => r.exitCode !== 0)) return null;
  return listed.flatMap((r) => nftItems(r.stdout).filter((i) => !('metainfo' in i)));
}

/** One set as `nft -j list set` gives it, elements included (null if nft answers without one); fails when nft does. */
export async function listSet(run: Runner, family: string, table: string, name: string): Promise<NftObject | null> {
  const r = await runChecked(run, `cannot list set ${name} (is the config applied?)`, 'nft', ['-j', 'list', 'set', family, table, name]);
  return (nftItems(r.stdout).find((i) => 'set' in i)?.set as NftObject | undefined) ?? null;
}

export async function deleteTable(run: Runner, family: string, name: string): Promise<void> {
  await applyBatch(run, { nftables: [{ add: { table: { family, name } } }, { delete: { table: { family, name } } }] });
}

function nftItems(stdout: string): NftObject[] {
  const parsed = JSON.parse(stdout) as { nftables?: NftObject[] };
  return parsed.nftables ?? [];
}
