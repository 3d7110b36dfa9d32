// Where the daemon keeps its state file and control socket: --state-dir, else NFT_MWAN_STATE_DIR, else /run/nft-mwan.
import { DEFAULT_STATE_DIR } from '../daemon/state-file.js';
import type { CommandContext } from './context.js';

export function stateDir(ctx: CommandContext): string {
  return (ctx.values['state-dir'] as string | undefined) ?? process.env.NFT_MWAN_STATE_DIR ?? DEFAULT_STATE_DIR;
}
