// The systemd notification adapter: what it runs under systemd, that it runs nothing elsewhere, and its watchdog.
import { describe, expect, it } from 'vitest';
import { createSdNotifier, type NotifyEnv, type Timers } from '../../src/system/sd-notify.js';
import type { Runner } from '../../src/system/runner.js';
import type { Logger } from '../../src/model/logger.js';

const SOCKET = '/run/systemd/notify';

function fakeRunner(result: { exitCode?: number; stderr?: string; throws?: Error } = {}) {
  const calls: { file: string; args: readonly string[]; timeoutMs: number | undefined }[] = [];
  const run: Runner = async (file, args, opts) => {
    calls.push({ file, args, timeoutMs: opts?.timeoutMs });
    if (result.throws) throw result.throws;
    return { stdout: '', stderr: result.stderr ?? '', exitCode: result.exitCode ?? 0 };
  };
  return { run, calls };
}

function fakeTimers() {
  const intervals = new Map<number, { fn: () => void; ms: number }>();
  let next = 1;
  const timers: Timers = {
    setInterval: (fn, ms) => {
      intervals.set(next, { fn, ms });
      return next++;
    },
    clearInterval: (h) => void intervals.delete(h as number),
  };
  const tick = () => [...intervals.values()].forEach((i) => i.fn());
  return { timers, intervals, tick };
}

function recordingLog() {
  const warnings: string[] = [];
  const log: Logger = { debug: () => {}, info: () => {}, warn: (m) => void warnings.push(m), error: () => {} };
  return { log, warnings };
}

describe('createSdNotifier under systemd ($NOTIFY_SOCKET set)', () => {
  it.each([
    [
      'ready with a status sends READY=1 and the status',
      (n: ReturnType<typeof createSdNotifier>) => n.ready('3 interfaces, 2 online'),
      ['READY=1', 'STATUS=3 interfaces, 2 online'],
    ],
    ['ready alone sends READY=1', (n: ReturnType<typeof createSdNotifier>) => n.ready(), ['READY=1']],
    ['status sends one STATUS= line', (n: ReturnType<typeof createSdNotifier>) => n.status('wan1 offline'), ['STATUS=wan1 offline']],
    [
      'a status with newlines is sent as one line',
      (n: ReturnType<typeof createSdNotifier>) => n.status('apply failed:\nnft said no\n'),
      ['STATUS=apply failed: nft said no'],
    ],
    ['stopping sends STOPPING=1', (n: ReturnType<typeof createSdNotifier>) => n.stopping('SIGTERM'), ['STOPPING=1', 'STATUS=SIGTERM']],
  ])('%s, through systemd-notify with a time limit', async (_name, act, expected) => {
    const { run, calls } = fakeRunner();
    const n = createSdNotifier({ run, env: { NOTIFY_SOCKET: SOCKET }, pid: 100 });
    expect(n.enabled).toBe(true);
    await act(n);
    expect(calls).toEqual([{ file: 'systemd-notify', args: expected, timeoutMs: expect.any(Number) }]);
    // systemd-notify must wait for systemd (no --no-block): its message would otherwise be lost as it exits.
    expect(calls[0]!.args).not.toContain('--no-block');
  });

  it('logs a failed systemd-notify as a warning and does not throw', async () => {
    const { log, warnings } = recordingLog();
    const failing = createSdNotifier({
      run: fakeRunner({ exitCode: 1, stderr: 'Failed to notify init system: Permission denied\n' }).run,
      env: { NOTIFY_SOCKET: SOCKET },
      pid: 100,
      log,
    });
    await expect(failing.ready()).resolves.toBeUndefined();
    const missing = createSdNotifier({
      run: fakeRunner({ throws: new Error('systemd-notify is not installed (or not in PATH)') }).run,
      env: { NOTIFY_SOCKET: SOCKET },
      pid: 100,
      log,
    });
    await expect(missing.status('x')).resolves.toBeUndefined();
    expect(warnings).toEqual([
      'systemd-notify READY=1 exited 1: Failed to notify init system: Permission denied',
      'systemd-notify STATUS=x: systemd-notify is not installed (or not in PATH)',
    ]);
  });
});

describe('createSdNotifier outside systemd', () => {
  it.each<[string, NotifyEnv]>([
    ['no NOTIFY_SOCKET', {}],
    ['an empty NOTIFY_SOCKET', { NOTIFY_SOCKET: '' }],
    ['a watchdog but no NOTIFY_SOCKET', { WATCHDOG_USEC: '30000000' }],
  ])('with %s runs nothing and keeps no watchdog', async (_name, env) => {
    const { run, calls } = fakeRunner();
    const { timers, intervals } = fakeTimers();
    const n = createSdNotifier({ run, env, pid: 100, timers });
    await n.ready('ok');
    await n.status('ok');
    await n.stopping();
    n.startWatchdog();
    expect({ enabled: n.enabled, watchdog: n.watchdogIntervalMs, calls, intervals: intervals.size }).toEqual({
      enabled: false,
      watchdog: null,
      calls: [],
      intervals: 0,
    });
  });
});

describe('the watchdog', () => {
  it.each<[string, NotifyEnv, number | null]>([
    ['WatchdogSec=30 pings every 15 s', { WATCHDOG_USEC: '30000000' }, 15_000],
    ['WatchdogSec=30 for this pid pings every 15 s', { WATCHDOG_USEC: '30000000', WATCHDOG_PID: '100' }, 15_000],
    ['a watchdog meant for another pid is not ours', { WATCHDOG_USEC: '30000000', WATCHDOG_PID: '4242' }, null],
    ['no WatchdogSec, no watchdog', {}, null],
    ['a WATCHDOG_USEC that is not a number is ignored', { WATCHDOG_USEC: 'soon' }, null],
  ])('%s', (_name, env, expected) => {
    const n = createSdNotifier({ run: fakeRunner().run, env: { NOTIFY_SOCKET: SOCKET, ...env }, pid: 100 });
    expect(n.watchdogIntervalMs).toBe(expected);
  });

  it('sends WATCHDOG=1 on each tick of the event loop, one at a time, until stopped', async () => {
    let release: () => void = () => {};
    const calls: string[][] = [];
    const run: Runner = async (_file, args) => {
      calls.push([...args]);
      await new Promise<void>((resolve) => (release = resolve));
      return { stdout: '', stderr: '', exitCode: 0 };
    };
    const { timers, intervals, tick } = fakeTimers();
    const n = createSdNotifier({ run, env: { NOTIFY_SOCKET: SOCKET, WATCHDOG_USEC: '20000000' }, pid: 100, timers });
    const stop = n.startWatchdog();
    expect([...intervals.values()].map((i) => i.ms)).toEqual([10_000]);
    tick();
    tick(); // the first keep-alive is still waiting: no second systemd-notify
    expect(calls).toEqual([['WATCHDOG=1']]);
    release();
    await new Promise((r) => setImmediate(r));
    tick();
    expect(calls).toEqual([['WATCHDOG=1'], ['WATCHDOG=1']]);
    stop();
    expect(intervals.size).toBe(0);
  });
});
