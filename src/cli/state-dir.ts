// Where the daemon keeps its state file and control socket, and applies their lock: --state-dir, else NFT_MWAN_STATE_DIR, else this network namespace's.
import { defaultStateDir } from '../system/runtime-dir.js';
import type { CommandContext } from './context.js';

export function stateDir(ctx: CommandContext): string {
  return (ctx.values['state-dir'] as string | undefined) ?? defaultStateDir();
}
