// `nft-mwan daemon`: runs in the foreground (systemd Type=simple) until SIGTERM/SIGINT; SIGHUP reloads the config.
import { Daemon } from '../daemon/daemon.js';
import { stateDir } from './state-dir.js';
import type { CommandContext } from './context.js';

export default async function daemon(ctx: CommandContext): Promise<number> {
  const d = new Daemon({
    configPath: ctx.configPath,
    stateDir: stateDir(ctx),
    run: ctx.run,
    log: ctx.log,
    stopOnExit: ctx.values['stop-on-exit'] === true,
  });
  const onSignal = (signal: NodeJS.Signals) => void d.shutdown(signal);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', () => {
    ctx.log.info('SIGHUP: reloading the config');
    void d.reload();
  });
  await d.start();
  await d.whenStopped();
  return 0;
}
