// Which config was applied last: apply records its path in the state directory, and the commands that look at
// what is installed (status, explain, stop, the views) use it when no --config is given.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runningDaemon } from './live.js';
import { stateDir } from './state-dir.js';
import type { CommandContext } from './context.js';

/** The file, in the state directory, holding the absolute path of the config applied last. */
export const APPLIED_CONFIG_FILE = 'applied-config';

/** Records `ctx.configPath` as the config applied last. */
export function recordAppliedConfig(ctx: CommandContext): void {
  const dir = stateDir(ctx);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeFileSync(join(dir, APPLIED_CONFIG_FILE), `${resolve(ctx.configPath)}\n`);
}

/**
 * Runs an `apply --try` with its config recorded while it is on trial (status then shows the config tried). The
 * record before it goes to `attempt`, which keeps it with the try, so that a rollback by anyone (this process or
 * the watchdog, once this process is gone) puts it back with `restoreAppliedConfig`; a try that fails puts it back here.
 */
export async function recordedOnTrial(ctx: CommandContext, attempt: (before: string | null) => Promise<number>): Promise<number> {
  const file = join(stateDir(ctx), APPLIED_CONFIG_FILE);
  let previous: string | null = null;
  try {
    previous = readFileSync(file, 'utf8');
  } catch {
    previous = null; // nothing recorded before
  }
  recordAppliedConfig(ctx);
  try {
    return await attempt(previous);
  } catch (e) {
    restoreAppliedConfig(ctx, previous);
    throw e;
  }
}

/** Puts back a record read before a try (null: there was none). */
export function restoreAppliedConfig(ctx: CommandContext, before: string | null): void {
  const file = join(stateDir(ctx), APPLIED_CONFIG_FILE);
  if (before === null) rmSync(file, { force: true });
  else writeFileSync(file, before);
}

/** Forgets it: nothing of nft-mwan is installed any more. */
export function forgetAppliedConfig(ctx: CommandContext): void {
  rmSync(join(stateDir(ctx), APPLIED_CONFIG_FILE), { force: true });
}

/** The path recorded, or null when none is (or the file it names is gone). */
export function appliedConfig(dir: string): string | null {
  let path: string;
  try {
    path = readFileSync(join(dir, APPLIED_CONFIG_FILE), 'utf8').trim();
  } catch {
    return null; // nothing recorded: no apply since boot, or another state directory
  }
  return path !== '' && existsSync(path) ? path : null;
}

/**
 * Without --config: the running daemon's config, else the config applied last when one is recorded; says which on
 * stderr.
 */
export async function useAppliedConfig(ctx: CommandContext): Promise<void> {
  const dir = stateDir(ctx);
  const daemon = await runningDaemon(dir);
  const recorded = appliedConfig(dir);
  const path = daemon?.configPath ?? recorded;
  if (path === null || path === ctx.configPath) return;
  ctx.configPath = path;
  ctx.log.info(
    daemon !== null
      ? `using ${path}: the config of the running daemon (pid ${daemon.pid}); --config FILE to use another`
      : `using ${path}: the config applied last (recorded in ${join(dir, APPLIED_CONFIG_FILE)}); --config FILE to use another`,
  );
}
