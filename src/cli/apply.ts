// `nft-mwan apply`: install the config (or with --print, show the batch and routing plan and change nothing).
// With the daemon running, it asks the daemon to reload instead: a plain apply would put every WAN
// back online behind the daemon's back. The daemon then reads and checks the config itself, in its warm process;
// this one reads it only to say why, when the daemon refused it.
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
  const print = ctx.values.print === true;
  const trySeconds = print || ctx.values.try === undefined ? null : Number(ctx.values.try);
  if (trySeconds !== null && (!Number.isFinite(trySeconds) || trySeconds < 1 || trySeconds > 3600)) {
    throw new MwanError({ code: 'USAGE', summary: `--try ${String(ctx.values.try)}: seconds between 1 and 3600` });
  }
  const dir = stateDir(ctx);
  const { states, daemon } = await liveStates(ctx);
  if (daemon && !print) {
    if (daemon.configPath !== resolve(ctx.configPath)) {
      throw new MwanError({
        code: 'DAEMON',
        summary:
          `the running daemon (pid ${daemon.pid}) uses ${daemon.configPath}, not ${ctx.configPath}; ` +
          `edit that file and run apply with it, or stop the daemon first`,
      });
    }
    if (trySeconds === null) return reloadThroughDaemon(ctx, daemon.pid, join(dir, CONTROL_SOCKET));
  }
  const config = configOrThrow(await loadConfig(ctx.configPath));
  if (print) {
    const { plan: p } = await plan(ctx.run, config, states);
    ctx.out(printPlan(p));
    return 0;
  }
  if (trySeconds !== null) {
    const { runTry } = await tryModule();
    return recordedOnTrial(ctx, (before) => runTry(ctx, config, trySeconds, states, daemon, before));
  }
  await apply(ctx.run, config, ctx.log, {}, { stateDir: dir });
  recordAppliedConfig(ctx);
  return 0;
}

/**
 * The daemon reloads the config file and applies it with its live WAN states. A config it refused is read here
 * only to show why, exactly as an apply without the daemon would (its issues with their lines, exit status 78);
 * any other refusal is the daemon's message.
 */
async function reloadThroughDaemon(ctx: CommandContext, pid: number, socket: string): Promise<number> {
  const reply = await sendControl(socket, { command: 'reload' });
  if (!reply.ok) {
    try {
      configOrThrow(await loadConfig(ctx.configPath));
    } catch (e) {
      ctx.log.warn(`the daemon (pid ${pid}) refused ${ctx.configPath} and keeps running its previous config`);
      throw e;
    }
    throw new MwanError({ code: 'DAEMON', summary: reply.message });
  }
  recordAppliedConfig(ctx);
  ctx.log.info(`the daemon (pid ${pid}) reloaded ${ctx.configPath} and applied it with its live WAN states`);
  return 0;
}
