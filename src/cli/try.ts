// `apply --try [SECONDS]`: apply, then keep it only if confirmed in time (Enter on the terminal, or `nft-mwan
// confirm`); the timeout, Ctrl-C, a lost terminal or a crash put back exactly the previous table and routing.
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { apply } from '../engine/apply.js';
import { claimTry, configHash, killQuietly, pendingTry, readTry, rollback, settleTry, snapshotFor, writeTry, type TryRecord } from '../engine/trial.js';
import type { LinkStates } from '../model/facts.js';
import type { ResolvedConfig } from '../config/resolved.js';
import { MwanError } from '../model/errors.js';
import { sendControl } from '../daemon/control.js';
import { CONTROL_SOCKET } from '../daemon/state-file.js';
import { processAlive } from '../system/process.js';
import { type DaemonState } from '../model/state.js';
import { serialized } from '../engine/serialize.js';
import { runningDaemon } from './live.js';
import { restoreAppliedConfig } from './applied-config.js';
import { stateDir } from './state-dir.js';
import type { CommandContext } from './context.js';

/** `appliedBefore`: the applied-config record before this try, put back by a rollback. */
export async function runTry(
  ctx: CommandContext,
  config: ResolvedConfig,
  seconds: number,
  states: LinkStates,
  daemon: DaemonState | null,
  appliedBefore: string | null,
): Promise<number> {
  const dir = stateDir(ctx);
  // The check for a pending try, its record and the apply are one step under the apply lock: of two tries
  // started together, the second finds the first pending and is refused.
  const record = await serialized(ctx.run, ctx.log, dir, () => startTry(ctx, dir, config, seconds, states, appliedBefore));
  const at = new Date(record.deadline).toLocaleTimeString();
  ctx.log.warn(`applied on trial: press Enter here, or run \`nft-mwan confirm\`, within ${seconds} s (before ${at}); otherwise everything is put back`);

  const outcome = await waitForOutcome(dir, record.deadline);
  if (outcome === 'confirmed-elsewhere') {
    ctx.log.info('confirmed (nft-mwan confirm)');
  } else if (outcome === 'enter') {
    const mine = await claimTry(dir, 'confirm');
    if (mine === null) return reportTaken(ctx);
    killQuietly(mine.watchdogPid);
    ctx.log.info('confirmed');
    if (daemon) await daemonTakesOver(ctx, dir);
  } else {
    const mine = await claimTry(dir, 'rollback');
    if (mine === null) return reportTaken(ctx);
    killQuietly(mine.watchdogPid);
    await rollbackAndSettle(ctx, dir, mine);
    throw new MwanError({
      code: 'TRY_ROLLED_BACK',
      summary: `${outcome === 'timeout' ? `not confirmed within ${seconds} s` : `interrupted (${outcome})`}: the previous table and routing are back`,
    });
  }
  // Confirmed elsewhere: `nft-mwan confirm` told the daemon.
  return 0;
}

/** Under the apply lock: refuses when a try is pending, else records this one, starts its watchdog and applies. */
async function startTry(
  ctx: CommandContext,
  dir: string,
  config: ResolvedConfig,
  seconds: number,
  states: LinkStates,
  appliedBefore: string | null,
): Promise<TryRecord> {
  const pending = await pendingTry(dir);
  if (pending !== null) {
    throw new MwanError({
      code: 'TRY_REFUSED',
      summary:
        `another try is pending (pid ${pending.pid}, rolls back at ${new Date(pending.deadline).toISOString()}); ` +
        `confirm it (nft-mwan confirm) or let it roll back first`,
    });
  }
  const taken = await snapshotFor(ctx.run, config);
  const record: TryRecord = {
    version: 1,
    pid: process.pid,
    watchdogPid: null,
    deadline: Date.now() + seconds * 1000,
    configPath: resolve(ctx.configPath),
    configHash: configHash(config),
    ...taken,
    appliedBefore,
  };
  // Without the record on disk neither the watchdog nor confirm could find the snapshot: no try at all.
  await writeTry(dir, record).catch((e: unknown) => {
    throw new MwanError({
      code: 'TRY_REFUSED',
      summary:
        `cannot try: the rollback record cannot be written to the state directory ${dir} (${(e as Error).message}); ` +
        `nothing was changed; give a writable --state-dir`,
      cause: e,
    });
  });
  // The watchdog is a separate process group: it rolls back at the deadline even if this terminal dies.
  const watchdog = spawn(process.execPath, [process.argv[1] as string, 'try-watchdog', '--state-dir', dir], { detached: true, stdio: 'ignore' });
  watchdog.unref();
  if (watchdog.pid === undefined) {
    await claimTry(dir, 'rollback');
    await settleTry(dir, 'rollback');
    throw new MwanError({ code: 'TRY_REFUSED', summary: 'cannot try: the rollback watchdog could not be started' });
  }
  record.watchdogPid = watchdog.pid;
  await writeTry(dir, record);

  try {
    await apply(ctx.run, config, ctx.log, states, { stateDir: dir });
  } catch (e) {
    // apply already put everything back; there is nothing left to try.
    killQuietly((await claimTry(dir, 'rollback'))?.watchdogPid ?? watchdog.pid);
    await settleTry(dir, 'rollback');
    throw e;
  }
  return record;
}

async function rollbackAndSettle(ctx: CommandContext, dir: string, mine: TryRecord): Promise<void> {
  try {
    await rollback(ctx.run, mine, ctx.log, dir);
    // The tried config is no longer what is applied (the watchdog's rollback too: the try process may be gone).
    if (mine.appliedBefore !== undefined) restoreAppliedConfig(ctx, mine.appliedBefore);
  } finally {
    // The daemon resumes now, on the config it kept in memory (it logs that the file on disk was rejected).
    await settleTry(dir, 'rollback');
  }
}

/**
 * A confirmed try with the daemon running: the daemon reloads the (tried) config file and applies it with its
 * live WAN states. It does so on its own as well when it held an apply for the try; asking makes it certain
 * and tells the operator when it is done.
 */
async function daemonTakesOver(ctx: CommandContext, dir: string): Promise<void> {
  const state = await runningDaemon(dir);
  if (state === null) return;
  const reply = await sendControl(join(dir, CONTROL_SOCKET), { command: 'reload' });
  if (!reply.ok) throw new MwanError({ code: 'DAEMON', summary: `confirmed, but the daemon (pid ${state.pid}) did not take the config up: ${reply.message}` });
  ctx.log.info(`the daemon (pid ${state.pid}) runs the confirmed config now`);
}

function reportTaken(ctx: CommandContext): number {
  // Someone else (confirm, or the watchdog at the deadline) decided first.
  ctx.log.warn('the try was decided elsewhere in the meantime (nft-mwan confirm, or the watchdog)');
  return 0;
}

type Outcome = 'enter' | 'confirmed-elsewhere' | 'timeout' | NodeJS.Signals;

function waitForOutcome(dir: string, deadline: number): Promise<Outcome> {
  return new Promise((done) => {
    const cleanups: (() => void)[] = [];
    const finish = (o: Outcome) => {
      for (const c of cleanups) c();
      done(o);
    };
    const timer = setTimeout(
      () => {
        finish('timeout');
      },
      Math.max(0, deadline - Date.now()),
    );
    cleanups.push(() => {
      clearTimeout(timer);
    });
    const poll = setInterval(() => {
      void readTry(dir).then((r) => {
        if (r === null || r.pid !== process.pid) finish('confirmed-elsewhere');
      });
    }, 200);
    cleanups.push(() => {
      clearInterval(poll);
    });
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      const h = () => {
        finish(sig);
      };
      process.once(sig, h);
      cleanups.push(() => process.removeListener(sig, h));
    }
    // Only a terminal confirms with Enter: a pipe could hold input meant for something else.
    if (process.stdin.isTTY) {
      const rl = createInterface({ input: process.stdin });
      rl.once('line', () => {
        finish('enter');
      });
      cleanups.push(() => {
        rl.close();
      });
    }
  });
}

/** `nft-mwan confirm`: keep the change a pending try made. */
export async function confirmCommand(ctx: CommandContext): Promise<number> {
  const dir = stateDir(ctx);
  const mine = await claimTry(dir, 'confirm');
  if (mine === null) throw new MwanError({ code: 'TRY_REFUSED', summary: 'no try is pending: nothing to confirm' });
  killQuietly(mine.watchdogPid);
  ctx.out(`confirmed: the change applied by pid ${mine.pid} stays`);
  // The try process may be gone (its terminal lost): the daemon is told here, not by it.
  await daemonTakesOver(ctx, dir);
  return 0;
}

const WATCHDOG_GRACE_MS = 3_000;

/** Hidden: the detached watchdog of one try. Rolls back at the deadline unless the try was decided before. */
export async function watchdogCommand(ctx: CommandContext): Promise<number> {
  const dir = stateDir(ctx);
  for (;;) {
    const r = await readTry(dir);
    if (r === null) return 0;
    // The terminal handles its own deadline; the watchdog steps in when it is gone, or a little later.
    if (Date.now() >= r.deadline && (!processAlive(r.pid) || Date.now() >= r.deadline + WATCHDOG_GRACE_MS)) break;
    // The terminal died before deciding: no point waiting for it any longer than the deadline.
    await new Promise((res) => setTimeout(res, Math.min(200, Math.max(0, r.deadline - Date.now()))));
  }
  const mine = await claimTry(dir, 'rollback');
  if (mine !== null) {
    await rollbackAndSettle(ctx, dir, mine);
    killQuietly(mine.pid);
  }
  return 0;
}
