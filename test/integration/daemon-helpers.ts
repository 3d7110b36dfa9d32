// Runs `nft-mwan daemon` in the lab's gateway and reads what it decided (its state file and log).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackgroundProcess, Lab } from '../../lab/netns.js';
import { readState } from '../../src/daemon/state-file.js';
import { type DaemonState, type InterfaceRecord } from '../../src/model/state.js';
import { expect, onTestFailed } from 'vitest';
import { BIN, cli } from './helpers.js';

export interface RunningDaemon {
  proc: BackgroundProcess;
  configPath: string;
  stateDir: string;
  state(): Promise<DaemonState | null>;
  iface(name: string): Promise<InterfaceRecord | undefined>;
  /** Waits until `name` is in `state`; returns the milliseconds it took from the call. */
  waitFor(name: string, state: InterfaceRecord['state'], timeoutMs?: number): Promise<number>;
  /** Log lines (stderr) so far. */
  log(): string[];
  writeConfig(config: unknown): void;
  /** SIGTERM and wait: returns the exit code. */
  stop(): Promise<number | null>;
}

export async function startDaemon(
  lab: Lab,
  config: unknown,
  extraArgs: string[] = [],
  { path, reuse, env = {} }: { path?: string; reuse?: RunningDaemon; env?: Record<string, string> } = {},
): Promise<RunningDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-daemon-'));
  // `reuse`: the same config file and state directory as an earlier daemon (a restart).
  const configPath = reuse?.configPath ?? join(dir, 'config.json');
  const stateDir = reuse?.stateDir ?? join(dir, 'state');
  const writeConfig = (c: unknown) => writeFileSync(configPath, typeof c === 'string' ? c : JSON.stringify(c, null, 2));
  writeConfig(config);
  const args = [BIN, 'daemon', '--config', configPath, '--state-dir', stateDir, '--verbose', ...extraArgs];
  // `env` execs in place, so the pid is still the daemon's own.
  const vars = [...(path === undefined ? [] : [`PATH=${path}`]), ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
  const proc = vars.length === 0 ? lab.spawn('gw', process.execPath, args) : lab.spawn('gw', 'env', [...vars, process.execPath, ...args]);
  const state = () => readState(stateDir);
  const iface = async (name: string) => (await state())?.interfaces[name];
  const log = () =>
    proc
      .stderr()
      .split('\n')
      .filter((l) => l.length > 0);
  const waitFor = async (name: string, want: InterfaceRecord['state'], timeoutMs = 10_000) => {
    const t0 = performance.now();
    await lab.waitFor(
      async () => {
        if (!proc.running) throw new Error(`daemon exited:\n${log().slice(-30).join('\n')}`);
        return (await iface(name))?.state === want;
      },
      { timeoutMs, intervalMs: 20, what: `${name} ${want}\n${log().slice(-15).join('\n')}` },
    );
    return performance.now() - t0;
  };
  const running = { proc, configPath, stateDir, state, iface, waitFor, log, writeConfig, stop: async () => (await proc.kill(10_000)).exitCode };
  // Up once the first apply is done: the state file then shows every interface.
  await lab.waitFor(
    async () => {
      if (!proc.running) throw new Error(`daemon exited at start:\n${log().join('\n')}`);
      const s = await state();
      return s !== null && s.pid === proc.pid && s.lastApply?.ok === true;
    },
    { timeoutMs: 15_000, intervalMs: 50, what: 'the daemon to start' },
  );
  return running;
}

/** Prints `lines` of the daemon's log should the running test fail (the test's own daemon, not a shared slot's). */
export function logOnFailure(d: RunningDaemon, lines: (log: string[]) => string[] = (l) => l): void {
  onTestFailed(() => {
    console.error(`daemon log:\n${lines(d.log()).join('\n')}`);
  });
}

/** After a test: stops its daemon, if one started (undefined when a beforeAll failed first), expecting exit 0; the config it ran with, for removeNftMwan. */
export async function stopTestDaemon(d: RunningDaemon | null | undefined): Promise<string | null> {
  if (!d) return null;
  expect(await d.stop()).toBe(0);
  return d.configPath;
}

/** `nft-mwan stop` in the gateway: its rules outlive the daemon by design, and each test starts without them. */
export async function removeNftMwan(lab: Lab, configPath: string | null): Promise<void> {
  if (configPath) expect((await cli(lab, 'gw', 'stop', '--config', configPath)).exitCode).toBe(0);
}
