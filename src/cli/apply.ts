// `nft-mwan apply`: install the config (or with --print, show the batch and routing plan and change nothing).
// With the daemon running, it asks the daemon to reload instead: a plain apply would put every WAN
// back online behind the daemon's back.
import { join, resolve } from 'node:path';
import { configOrThrow, loadConfig } from '../config/load.js';
import { apply, plan } from '../engine/apply.js';
import { MwanError } from '../model/errors.js';
import { sendControl } from '../daemon/control.js';
import { CONTROL_SOCKET } from '../daemon/state-file.js';
import { liveStates } from './live.js';
import { stateDir } from './state-dir.js';
import { recordAppliedConfig, recordedOnTrial } from './applied-config.js';
import { printPlan } from './print.js';
import type { CommandContext } from './context.js';

/** apply --try's machinery (the trial record, its watchdog, node:crypto for the config's hash): loaded only for --try. */
const tryModule = () => import('./try.js');

export default async function applyCommand(ctx: CommandContext): Promise<number> {
  const config = configOrThrow(await loadConfig(ctx.configPath));
  const dir = stateDir(ctx);
  const { states, daemon } = await liveStates(ctx);
  if (ctx.values.print) {
    const { plan: p } = await plan(ctx.run, config, states);
    ctx.out(printPlan(p));
    return 0;
  }
  const trySeconds = ctx.values.try === undefined ? null : Number(ctx.values.try);
  if (trySeconds !== null && (!Number.isFinite(trySeconds) || trySeconds < 1 || trySeconds > 3600)) {
    throw new MwanError({ code: 'USAGE', summary: `--try ${String(ctx.values.try)}: seconds between 1 and 3600` });
  }
  if (daemon) {
    if (daemon.configPath !== resolve(ctx.configPath)) {
      throw new MwanError({
        code: 'DAEMON',
        summary:
          `the running daemon (pid ${daemon.pid}) uses ${daemon.configPath}, not ${ctx.configPath}; ` +
          `edit that file and run apply with it, or stop the daemon first`,
      });
    }
    if (trySeconds !== null) {
      const { runTry } = await tryModule();
      return recordedOnTrial(ctx, (before) => runTry(ctx, config, trySeconds, states, daemon, before));
    }
    const reply = await sendControl(join(dir, CONTROL_SOCKET), { command: 'reload' });
    if (!reply.ok) throw new MwanError({ code: 'DAEMON', summary: reply.message });
    recordAppliedConfig(ctx);
    ctx.log.info(`the daemon (pid ${daemon.pid}) reloaded ${ctx.configPath} and applied it with its live WAN states`);
    return 0;
  }
  if (trySeconds !== null) {
    const { runTry } = await tryModule();
    return recordedOnTrial(ctx, (before) => runTry(ctx, config, trySeconds, states, null, before));
  }
  await apply(ctx.run, config, ctx.log, {}, { stateDir: dir });
  recordAppliedConfig(ctx);
  return 0;
}
