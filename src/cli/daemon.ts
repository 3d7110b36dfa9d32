// `nft-mwan daemon`: runs in the foreground (systemd Type=notify) until SIGTERM/SIGINT; SIGHUP reloads the config.
import { Daemon } from '../daemon/daemon.js';
import { MwanError } from '../model/errors.js';
import { createSdNotifier } from '../system/sd-notify.js';
import { stateDir } from './state-dir.js';
import type { CommandContext } from './context.js';

export default async function daemon(ctx: CommandContext): Promise<number> {
  // Without root nothing it does can work (nft, ip rule, nft monitor): one clear refusal, not a daemon retrying forever.
  const uid = process.getuid?.();
  if (uid !== 0) {
    throw new MwanError({
      code: 'NOT_ROOT',
      summary: `nft-mwan daemon must run as root (it changes nftables, ip rules and routes); running as uid ${String(uid)}, not started`,
    });
  }
  const d = new Daemon({
    configPath: ctx.configPath,
    stateDir: stateDir(ctx),
    run: ctx.run,
    log: ctx.log,
    stopOnExit: ctx.values['stop-on-exit'] === true,
  });
  // systemd (Type=notify) hears READY=1 once the first apply is verified, then WATCHDOG=1 from the event loop.
  const notify = createSdNotifier({ run: ctx.run, env: process.env, pid: process.pid });
  let stopWatchdog = (): void => undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    stopWatchdog();
    void notify.stopping(`stopping on ${signal}`);
    void d.shutdown(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', () => {
    ctx.log.info('SIGHUP: reloading the config');
    void d.reload();
  });
  await d.start();
  await notify.ready(`${Object.keys(d.snapshot().interfaces).length} interfaces`);
  stopWatchdog = notify.startWatchdog();
  await d.whenStopped();
  stopWatchdog();
  return 0;
}
