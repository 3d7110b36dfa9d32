// Adapter around `nft -j`: apply a batch as one transaction from a file, list and delete tables.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NftBatch } from '../compile/plan.js';
import { commandLine, runChecked, type Runner } from './runner.js';
import { MwanError } from '../errors.js';

type Obj = Record<string, unknown>;

/**
 * Applies (or with `check`, only checks: the kernel runs the transaction and aborts it) a batch.
 * Always from a file: nft 1.0.6 exits 0 and applies nothing when stdin holds unparseable JSON.
 */
export async function applyBatch(run: Runner, batch: NftBatch, o: { check?: boolean } = {}): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'nft-mwan-'));
  const file = join(dir, 'batch.json');
  try {
    await writeFile(file, JSON.stringify(batch), { mode: 0o600 });
    const args = ['-j', ...(o.check ? ['-c'] : []), '-f', file];
    await runChecked(run, o.check ? 'nft rejected the batch (check only, nothing changed)' : 'nft rejected the batch; nothing was changed (one transaction)', 'nft', args);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function listTables(run: Runner): Promise<{ family: string; name: string }[]> {
  const r = await runChecked(run, 'cannot list nftables tables', 'nft', ['-j', 'list', 'tables']);
  return nftItems(r.stdout)
    .filter((i) => 'table' in i)
    .map((i) => {
      const t = i.table as Obj;
      return { family: String(t.family), name: String(t.name) };
    });
}

/** The table's objects as `nft -j list table` gives them, or null when there is no such table. */
export async function listTable(run: Runner, family: string, name: string): Promise<Obj[] | null> {
  // One nft call when the table is there (every apply); only a failure asks which tables exist, so an
  // absent table is told from a real error without reading nft's message.
  const args = ['-j', 'list', 'table', family, name];
  const r = await run('nft', args);
  if (r.exitCode === 0) return nftItems(r.stdout).filter((i) => !('metainfo' in i));
  const tables = await listTables(run);
  if (!tables.some((t) => t.family === family && t.name === name)) return null;
  throw new MwanError({ code: 'COMMAND_FAILED', summary: `cannot list table ${family} ${name}`, command: commandLine('nft', args), exitCode: r.exitCode, stderr: r.stderr });
}

export async function deleteTable(run: Runner, family: string, name: string): Promise<void> {
  await applyBatch(run, { nftables: [{ add: { table: { family, name } } }, { delete: { table: { family, name } } }] });
}

function nftItems(stdout: string): Obj[] {
  const parsed = JSON.parse(stdout) as { nftables?: Obj[] };
  return parsed.nftables ?? [];
}
