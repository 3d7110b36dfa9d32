// Adapter around `nft -j` (in process through libnftables, else the command): apply a batch as one transaction, list and delete tables.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NftBatch } from '../model/plan.js';
import type { NftLibrary } from './libnftables.js';
import { commandLine, succeeded, type InProcessNft, type RunResult, type Runner } from './runner.js';
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
   * final before that. Rejects when nft fails first. In process (libnftables), the call returns after the
   * commit: both promises settle then.
   */
  committed: Promise<void>;
  /** nft has exited: resolves when it succeeded, rejects with its error. Always to be awaited. */
  done: Promise<void>;
}

/**
 * Applies (or with `check`, only checks: the kernel runs the transaction and aborts it) a batch.
 * The nft command reads it from a file: nft 1.0.6 exits 0 and applies nothing when stdin holds unparseable JSON.
 * libnftables is given the text (unparseable JSON fails there).
 */
export function startBatch(run: Runner, batch: NftBatch, o: { check?: boolean; watch?: CommitWatch } = {}): Transaction {
  const summary = o.check ? 'nft rejected the batch (check only, nothing changed)' : 'nft rejected the batch (one transaction)';
  let seen: Promise<void> | null = null;
  let spawned: () => void = () => undefined;
  const spawn = new Promise<void>((resolve) => (spawned = resolve));
  const done = (async () => {
    try {
      const lib = await library(run);
      if (lib) {
        const args = ['-j', ...(o.check ? ['-c'] : []), '-f', '-'];
        // This process commits: `nft monitor` reports its pid. Told first, so the commit is known as its own.
        if (!o.check) void o.watch?.(process.pid);
        checked(summary, args, await inProcess(lib, args, JSON.stringify(batch), o.check));
        return;
      }
      await batchFromFile(run, batch, summary, o.check === true, (pid) => {
        seen = o.check ? null : (o.watch?.(pid) ?? null);
        spawned();
      });
    } finally {
      spawned();
    }
  })();
  const committed = spawn.then(() => (seen ? Promise.race([seen, done]) : done));
  // A caller that awaits `done` alone must not leave this rejection unhandled.
  committed.catch(() => undefined);
  return { committed, done };
}

async function batchFromFile(run: Runner, batch: NftBatch, summary: string, check: boolean, onSpawn: (pid: number) => void): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'nft-mwan-'));
  const file = join(dir, 'batch.json');
  try {
    await writeFile(file, JSON.stringify(batch), { mode: 0o600 });
    const args = ['-j', ...(check ? ['-c'] : []), '-f', file];
    checked(summary, args, await run('nft', args, { onSpawn }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function applyBatch(run: Runner, batch: NftBatch, o: { check?: boolean } = {}): Promise<void> {
  await startBatch(run, batch, o).done;
}

export async function listTables(run: Runner): Promise<{ family: string; name: string }[]> {
  const r = checked('cannot list nftables tables', ['-j', 'list', 'tables'], await nft(run, ['list', 'tables']));
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
  const r = await nft(run, args.slice(1));
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
  const listed = await Promise.all(names.map((name) => nft(run, ['list', 'chain', family, table, name])));
  if (listed.some((r) => r.exitCode !== 0)) return null;
  return listed.flatMap((r) => nftItems(r.stdout).filter((i) => !('metainfo' in i)));
}

/** One set as `nft -j list set` gives it, elements included (null if nft answers without one); fails when nft does. */
export async function listSet(run: Runner, family: string, table: string, name: string): Promise<NftObject | null> {
  const words = ['list', 'set', family, table, name];
  const r = checked(`cannot list set ${name} (is the config applied?)`, ['-j', ...words], await nft(run, words));
  return (nftItems(r.stdout).find((i) => 'set' in i)?.set as NftObject | undefined) ?? null;
}

export async function deleteTable(run: Runner, family: string, name: string): Promise<void> {
  await applyBatch(run, { nftables: [{ add: { table: { family, name } } }, { delete: { table: { family, name } } }] });
}

/** `nft -j list counters table ...`: the table's named counters; a failure is a result (the caller decides). */
export function listCounters(run: Runner, family: string, table: string): Promise<RunResult> {
  return nft(run, ['list', 'counters', 'table', family, table]);
}

/** Runs a script in nft's own language (`nft -f -`), in process when the runner can; fails with `summary`. */
export async function runScript(run: Runner, text: string, summary: string): Promise<void> {
  const args = ['-f', '-'];
  const lib = await library(run);
  checked(summary, args, lib ? await inProcess(lib, args, text) : await run('nft', args, { input: text }));
}

/** The runner's in-process nft with its library, when it has one and it loaded; null: run the nft command. */
async function library(run: Runner): Promise<Loaded | null> {
  const nft = run.nft;
  const lib = nft ? await nft.library() : null;
  return nft && lib ? { nft, lib } : null;
}

interface Loaded {
  nft: InProcessNft;
  lib: NftLibrary;
}

/** `nft -j WORDS...`: the library is given the words joined by spaces, as nft's own main() does with its arguments. */
async function nft(run: Runner, words: readonly string[]): Promise<RunResult> {
  const lib = await library(run);
  return lib ? inProcess(lib, ['-j', ...words], words.join(' ')) : run('nft', ['-j', ...words]);
}

/**
 * One library call, given up after the runner's timeout like the command would be: the call cannot be killed, and it
 * holds the context, so the library is abandoned for the rest of the process (its later nft runs as a command, which
 * is how the caller's read-back of a transaction that may or may not have committed works).
 */
async function inProcess({ nft, lib }: Loaded, args: readonly string[], buffer: string, dryRun = false): Promise<RunResult> {
  const shown = `${commandLine('nft', args)} (libnftables)`;
  nft.log(`run: ${shown}`);
  const timeoutMs = nft.timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      nft.abandon(`a libnftables call did not return within ${timeoutMs} ms`);
      reject(new MwanError({ code: 'COMMAND_TIMEOUT', summary: `nft (libnftables) did not finish within ${timeoutMs} ms`, command: shown }));
    }, timeoutMs);
  });
  try {
    return await Promise.race([lib.run(buffer, { dryRun }), late]);
  } catch (error) {
    if (error instanceof MwanError) throw error;
    throw new MwanError({ code: 'COMMAND_FAILED', summary: 'libnftables could not be called', command: shown, cause: error });
  } finally {
    clearTimeout(timer);
  }
}

/** A failed nft run as COMMAND_FAILED with its stderr (the library's error buffer, or the command's stderr). */
const checked = (summary: string, args: readonly string[], r: RunResult): RunResult => succeeded(summary, 'nft', args, r);

function nftItems(stdout: string): NftObject[] {
  const parsed = JSON.parse(stdout) as { nftables?: NftObject[] };
  return parsed.nftables ?? [];
}
