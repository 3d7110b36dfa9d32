// `nft-mwan use WAN -- COMMAND...`: run a command whose new connections leave through one WAN.
// The command runs with group id useGidBase + the WAN's id; the output chain maps that group to the WAN's mark.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { configOrThrow, loadConfig } from '../config/load.js';
import { MwanError } from '../model/errors.js';
import { discover } from '../engine/discover.js';
import type { CommandContext } from './context.js';

export default async function useCommand(ctx: CommandContext): Promise<number> {
  const [wan, ...command] = ctx.positionals;
  if (wan === undefined || command.length === 0) throw new MwanError({ code: 'USAGE', summary: 'usage: nft-mwan use [--config FILE] WAN -- COMMAND [ARG...]' });
  const config = configOrThrow(await loadConfig(ctx.configPath));
  const iface = config.interfaces[wan];
  if (!iface || !iface.enabled) {
    throw new MwanError({
      code: 'USAGE',
      summary: `"${wan}" is not an enabled interface of ${ctx.configPath} (interfaces: ${Object.keys(config.interfaces).join(', ')})`,
    });
  }
  // The id as installed: that is what the output chain matches.
  const { facts, listing } = await discover(ctx.run, config);
  const id = facts.previousIds[wan];
  if (listing === null || id === undefined) {
    throw new MwanError({ code: 'NOT_INSTALLED', summary: `table inet ${config.globals.table} with ${wan} is not installed: run nft-mwan apply first` });
  }
  const gid = config.globals.useGidBase + id;
  const [file, ...args] = command as [string, ...string[]];
  const child = spawn(file, args, { stdio: 'inherit', gid });
  return new Promise((resolve, reject) => {
    child.once('error', (e) => {
      reject(new MwanError({ code: 'COMMAND_FAILED', summary: `cannot run ${file}: ${e.message}` }));
    });
    // Like a shell: a command killed by a signal exits 128 + its number.
    child.once('exit', (code, signal) => {
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}
