// Which config was applied last: apply records its path in the state directory, and the commands that look at
// what is installed (status, explain, stop, the views) use it when no --config is given.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
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

/** Without --config: the config applied last, when one is recorded, and says so on stderr. */
export function useAppliedConfig(ctx: CommandContext): void {
  const dir = stateDir(ctx);
  const path = appliedConfig(dir);
  if (path === null || path === ctx.configPath) return;
  ctx.configPath = path;
  ctx.log.info(`using ${path}: the config applied last (recorded in ${join(dir, APPLIED_CONFIG_FILE)}); --config FILE to use another`);
}
