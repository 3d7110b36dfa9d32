// Tells systemd how the daemon is doing (READY=1, WATCHDOG=1, STATUS=, STOPPING=1), through systemd-notify.
//
// The protocol is one datagram on the unix socket named by $NOTIFY_SOCKET; Node has no unix datagram sockets,
// so each message is sent by systemd-notify(1). Its sender is then a child process, not the main PID: the unit
// says NotifyAccess=all, and systemd-notify waits (it is not run with --no-block) until systemd has read the
// message, so the message is not lost when the short-lived sender exits before systemd looks up its cgroup.
// Without $NOTIFY_SOCKET (not under systemd, or Type=simple) every call is a no-op that runs nothing.
import type { Logger } from '../model/logger.js';
import type { Runner } from './runner.js';

/** The variables systemd sets for a Type=notify service (see sd_notify(3), sd_watchdog_enabled(3)). */
export interface NotifyEnv {
  NOTIFY_SOCKET?: string | undefined;
  WATCHDOG_USEC?: string | undefined;
  WATCHDOG_PID?: string | undefined;
}

export interface Timers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface SdNotifier {
  /** True when systemd listens ($NOTIFY_SOCKET set). */
  readonly enabled: boolean;
  /** How often to send WATCHDOG=1 (half of WatchdogSec=, as sd_watchdog_enabled(3) advises); null: no watchdog. */
  readonly watchdogIntervalMs: number | null;
  /** READY=1 (and a STATUS= line): the start-up job of a Type=notify unit completes here. */
  ready(status?: string): Promise<void>;
  status(text: string): Promise<void>;
  /** STOPPING=1: the daemon has begun to exit (systemctl stop shows "deactivating" rather than a failure). */
  stopping(status?: string): Promise<void>;
  /** Sends WATCHDOG=1 every watchdogIntervalMs from the event loop (a hung loop sends nothing); returns a stop. */
  startWatchdog(): () => void;
}

/** systemd-notify's own time limit: it waits for systemd to read the message, which takes milliseconds. */
export const NOTIFY_TIMEOUT_MS = 5_000;

export function createSdNotifier(o: { run: Runner; env: NotifyEnv; pid: number; log?: Logger; timers?: Timers }): SdNotifier {
  const enabled = (o.env.NOTIFY_SOCKET ?? '') !== '';
  const watchdogIntervalMs = enabled ? watchdogInterval(o.env, o.pid) : null;
  const timers: Timers = o.timers ?? {
    setInterval: (fn, ms) => setInterval(fn, ms).unref(),
    clearInterval: (h) => {
      clearInterval(h as NodeJS.Timeout);
    },
  };

  const send = async (assignments: string[]): Promise<boolean> => {
    if (!enabled) return false;
    try {
      const r = await o.run('systemd-notify', assignments, { timeoutMs: NOTIFY_TIMEOUT_MS });
      if (r.exitCode === 0) return true;
      o.log?.warn(`systemd-notify ${assignments.join(' ')} exited ${r.exitCode}: ${r.stderr.trim()}`);
    } catch (error) {
      // Never fatal: a daemon that routes traffic keeps running when systemd cannot be told about it.
      o.log?.warn(`systemd-notify ${assignments.join(' ')}: ${error instanceof Error ? error.message : String(error)}`);
    }
    return false;
  };
  const withStatus = (first: string, status: string | undefined) => (status === undefined ? [first] : [first, statusLine(status)]);

  return {
    enabled,
    watchdogIntervalMs,
    ready: async (status) => {
      await send(withStatus('READY=1', status));
    },
    status: async (text) => {
      await send([statusLine(text)]);
    },
    stopping: async (status) => {
      await send(withStatus('STOPPING=1', status));
    },
    startWatchdog: () => {
      if (watchdogIntervalMs === null) return () => {};
      // One keep-alive at a time: a systemd-notify still waiting is not joined by another.
      let inFlight = false;
      const handle = timers.setInterval(() => {
        if (inFlight) return;
        inFlight = true;
        void send(['WATCHDOG=1']).finally(() => {
          inFlight = false;
        });
      }, watchdogIntervalMs);
      return () => {
        timers.clearInterval(handle);
      };
    },
  };
}

/** STATUS= is one line: a newline would start a new assignment in the datagram. */
function statusLine(text: string): string {
  return `STATUS=${text.replace(/[\r\n]+/g, ' ').trim()}`;
}

/** Half of $WATCHDOG_USEC, when the watchdog is meant for this process ($WATCHDOG_PID unset or ours). */
function watchdogInterval(env: NotifyEnv, pid: number): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isSafeInteger(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== '' && Number(env.WATCHDOG_PID) !== pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}
