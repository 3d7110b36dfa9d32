// apply --try from the command line: one pending try at a time, and a confirm tells only a daemon that is running.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { confirmCommand, runTry } from '../../src/cli/try.js';
import type { CommandContext } from '../../src/cli/context.js';
import { normalize } from '../../src/config/normalize.js';
import { serveControl, type ControlRequest } from '../../src/daemon/control.js';
import { CONTROL_SOCKET, writeState } from '../../src/daemon/state-file.js';
import { configHash, readTry, writeTry, type TryRecord } from '../../src/engine/trial.js';
import { MwanError } from '../../src/model/errors.js';
import type { DaemonState } from '../../src/model/state.js';

const config = normalize({ interfaces: { wan1: { device: 'wan1', gateway: '198.51.100.1' } }, policies: { p: { members: [{ interface: 'wan1' }] } } });

// A process that is alive and not this one: a sleeping child. DEAD is above the default pid_max.
const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
const ALIVE = sleeper.pid as number;
const DEAD = 2 ** 22 + 12345;
const dirs: string[] = [];
afterAll(() => {
  sleeper.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Past the pending check, a try reads the installed table first: this runner stops it there, touching nothing. */
class SnapshotReached extends Error {}

function context(): { ctx: CommandContext; out: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-cli-try-'));
  dirs.push(dir);
  const out: string[] = [];
  const quiet = () => undefined;
  const ctx: CommandContext = {
    configPath: join(dir, 'config.json'),
    json: false,
    log: { debug: quiet, info: quiet, warn: quiet, error: quiet },
    run: () => Promise.reject(new SnapshotReached()),
    out: (t) => out.push(t),
    values: { 'state-dir': dir },
    positionals: [],
  };
  return { ctx, out };
}

function pending(ctx: CommandContext, pids: Pick<TryRecord, 'pid' | 'watchdogPid'>): Promise<void> {
  return writeTry(ctx.values['state-dir'] as string, {
    version: 1,
    ...pids,
    deadline: Date.now() + 60_000,
    configPath: ctx.configPath,
    configHash: configHash(config),
    table: { family: 'inet', name: 'nft_mwan' },
    protocol: 77,
    snapshot: { listing: null, routing: { rules: [], routes: [] } },
  });
}

describe('apply --try', () => {
  it.each([
    ['its process is alive', { pid: ALIVE, watchdogPid: null }],
    ['only its watchdog is alive', { pid: DEAD, watchdogPid: ALIVE }],
  ])('is refused while another try is pending: %s', async (_, pids) => {
    const { ctx } = context();
    await pending(ctx, pids);
    const error = await runTry(ctx, config, 30, {}, null, null).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MwanError);
    expect((error as MwanError).code).toBe('TRY_REFUSED');
    expect((error as MwanError).message).toContain(`another try is pending (pid ${pids.pid}`);
  });

  it.each([
    ['no try was recorded', null],
    ['the recorded try and its watchdog are gone', { pid: DEAD, watchdogPid: DEAD + 1 }],
  ])('goes on to read the installed table when %s', async (_, pids) => {
    const { ctx } = context();
    if (pids) await pending(ctx, pids);
    await expect(runTry(ctx, config, 30, {}, null, null)).rejects.toBeInstanceOf(SnapshotReached);
  });
});

describe('nft-mwan confirm', () => {
  const daemon = (pid: number, running: boolean): DaemonState => ({
    version: 1,
    pid,
    running,
    configPath: '/etc/nft-mwan/config.json',
    startedAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    interfaces: {},
    lastApply: null,
  });

  it.each([
    ['no daemon state is on disk', null],
    ['the daemon that wrote the state is gone', daemon(DEAD, true)],
    ['the daemon stopped', daemon(ALIVE, false)],
  ])('keeps the try without asking a daemon when %s', async (_, state) => {
    const { ctx, out } = context();
    const dir = ctx.values['state-dir'] as string;
    await pending(ctx, { pid: DEAD, watchdogPid: null });
    if (state) await writeState(dir, state);
    expect(await confirmCommand(ctx)).toBe(0);
    expect(out).toEqual([`confirmed: the change applied by pid ${DEAD} stays`]);
    expect(await readTry(dir)).toBeNull();
  });

  it('asks the running daemon to reload, which then runs the confirmed config', async () => {
    const { ctx } = context();
    const dir = ctx.values['state-dir'] as string;
    await pending(ctx, { pid: DEAD, watchdogPid: null });
    await writeState(dir, daemon(ALIVE, true));
    const asked: ControlRequest[] = [];
    const server = await serveControl(join(dir, CONTROL_SOCKET), async (req) => {
      asked.push(req);
      return { ok: true, message: 'reloaded' };
    });
    try {
      expect(await confirmCommand(ctx)).toBe(0);
    } finally {
      server.close();
    }
    expect(asked).toEqual([{ command: 'reload' }]);
  });

  it('says so when the running daemon refuses the confirmed config', async () => {
    const { ctx } = context();
    const dir = ctx.values['state-dir'] as string;
    await pending(ctx, { pid: DEAD, watchdogPid: null });
    await writeState(dir, daemon(ALIVE, true));
    const server = await serveControl(join(dir, CONTROL_SOCKET), async () => ({ ok: false, message: 'the config is invalid' }));
    try {
      await expect(confirmCommand(ctx)).rejects.toMatchObject({ code: 'DAEMON', message: expect.stringContaining('the config is invalid') });
    } finally {
      server.close();
    }
  });
});
