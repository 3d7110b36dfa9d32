// `nft-mwan stop`: remove nft-mwan's table, ip rules and routes; nothing that belongs to anyone else.
import { loadConfig } from '../config/load.js';
import { stop } from '../engine/stop.js';
import type { CommandContext } from './context.js';
import { MwanError } from '../model/errors.js';
import { liveStates } from './live.js';
import { resolveGlobals } from '../config/normalize.js';
import { forgetAppliedConfig } from './applied-config.js';
import { stateDir } from './state-dir.js';

export default async function stopCommand(ctx: CommandContext): Promise<number> {
  const { daemon: file } = await liveStates(ctx);
  if (file !== null) {
    // It would put everything back at its next state change: stop it instead, it can take the rules along.
    throw new MwanError({
      code: 'DAEMON',
      summary:
        `the daemon (pid ${file.pid}) is running and would re-install the rules; ` +
        `stop it first (systemctl stop nft-mwan), then run stop, or run the daemon with --stop-on-exit`,
    });
  }
  const loaded = await loadConfig(ctx.configPath);
  // Stopping must work even when the config is broken: fall back to the default names.
  if (!loaded.ok) ctx.log.warn(`${ctx.configPath}: ${loaded.summary}; removing the default table and rule protocol`);
  const removed = await stop(ctx.run, loaded.ok ? loaded.config.globals : resolveGlobals({}), { log: ctx.log, stateDir: stateDir(ctx) });
  forgetAppliedConfig(ctx);
  ctx.log.info(
    `stopped: ${removed.table ? `table inet ${removed.table} deleted` : 'no table installed'}; ${removed.rules} ip rules and ${removed.routes} routes removed`,
  );
  return 0;
}
