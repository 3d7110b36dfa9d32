// `nft-mwan apply`: install the config (or with --print, show the batch and routing plan and change nothing).
// With the daemon running, it asks the daemon to reload instead: a plain apply would put every WAN
// back online behind the daemon's back.
import { join, resolve } from 'node:path';
import { configOrThrow, loadConfig } from '../config/load.js';
import { apply, plan } from '../engine/apply.js';
import { MwanError } from '../errors.js';
import { sendControl } from '../daemon/control.js';
import { CONTROL_SOCKET, processAlive, readState } from '../daemon/state-file.js';
import type { LinkStates } from '../compile/compile.js';
import { stateDir } from './state-dir.js';
import type { CommandContext } from './main.js';

export default async function applyCommand(ctx: CommandContext): Promise<number> {
  const config = configOrThrow(await loadConfig(ctx.configPath));
  const dir = stateDir(ctx);
  const file = await readState(dir);
  const daemon = file !== null && file.running && processAlive(file.pid) ? file : null;
  if (ctx.values.print) {
    const states: LinkStates = daemon ? Object.fromEntries(Object.entries(daemon.interfaces).map(([n, i]) => [n, i.state])) : {};
    const { plan: p } = await plan(ctx.run, config, states);
    ctx.out(JSON.stringify({ nftables: p.nft.nftables, routing: p.routing, warnings: p.warnings }, null, 2));
    return 0;
  }
  if (daemon) {
    if (daemon.configPath !== resolve(ctx.configPath)) {
      throw new MwanError({
        code: 'DAEMON',
        summary: `the running daemon (pid ${daemon.pid}) uses ${daemon.configPath}, not ${ctx.configPath}; edit that file and run apply with it, or stop the daemon first`,
      });
    }
    const reply = await sendControl(join(dir, CONTROL_SOCKET), { command: 'reload' });
    if (!reply.ok) throw new MwanError({ code: 'DAEMON', summary: reply.message });
    ctx.log.info(`the daemon (pid ${daemon.pid}) reloaded ${ctx.configPath} and applied it with its live WAN states`);
    return 0;
  }
  await apply(ctx.run, config, ctx.log);
  return 0;
}
