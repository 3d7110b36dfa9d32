// apply with the daemon running: the daemon reloads the config file itself; this process reads it only to say why
// the daemon refused it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import applyCommand from '../../src/cli/apply.js';
import type { CommandContext } from '../../src/cli/context.js';
import { serveControl, type ControlReply, type ControlRequest } from '../../src/daemon/control.js';
import { CONTROL_SOCKET, writeState } from '../../src/daemon/state-file.js';
import { MwanError } from '../../src/model/errors.js';
import type { DaemonState } from '../../src/model/state.js';

// A process that is alive and not this one stands for the daemon.
const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
const ALIVE = sleeper.pid as number;
const dirs: string[] = [];
afterAll(() => {
  sleeper.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const VALID = JSON.stringify({
  interfaces: { wan1: { device: 'wan1', gateway: '198.51.100.1' } },
  policies: { p: { members: [{ interface: 'wan1' }] } },
});
// An unknown interface in a policy: CONFIG_INVALID, with the issue's line.
const INVALID =
  '{\n "interfaces": { "wan1": { "device": "wan1", "gateway": "198.51.100.1" } },\n "policies": { "p": { "members": [{ "interface": "wan9" }] } }\n}\n';

/** A command context on its own state directory, with a config file holding `text` (or none at all). */
function context(text: string | null): { ctx: CommandContext; dir: string; warnings: string[]; commands: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-cli-apply-'));
  dirs.push(dir);
  const configPath = join(dir, 'config.json');
  if (text !== null) writeFileSync(configPath, text, { mode: 0o600 });
  const warnings: string[] = [];
  const commands: string[] = [];
  const quiet = () => undefined;
  const ctx: CommandContext = {
    configPath,
    json: false,
    log: { debug: quiet, info: quiet, warn: (m) => warnings.push(m), error: quiet },
    // Nothing of the system is read or changed by this process when the daemon applies.
    run: (cmd, args) => {
      commands.push([cmd, ...args].join(' '));
      return Promise.reject(new Error(`unexpected command ${cmd}`));
    },
    out: quiet,
    values: { 'state-dir': dir },
    positionals: [],
  };
  return { ctx, dir, warnings, commands };
}

async function withDaemon<T>(dir: string, configPath: string, reply: ControlReply, f: (asked: ControlRequest[]) => Promise<T>): Promise<T> {
  const state: DaemonState = {
    version: 1,
    pid: ALIVE,
    running: true,
    configPath,
    startedAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    interfaces: {},
    lastApply: null,
  };
  await writeState(dir, state);
  const asked: ControlRequest[] = [];
  const server = await serveControl(join(dir, CONTROL_SOCKET), async (req) => {
    asked.push(req);
    return reply;
  });
  try {
    return await f(asked);
  } finally {
    server.close();
  }
}

describe('apply with the daemon running', () => {
  it('leaves the config to the daemon: asked to reload, it reads the file (here missing for this process) and applies', async () => {
    const { ctx, dir, commands } = context(null);
    await withDaemon(dir, ctx.configPath, { ok: true, message: 'config reloaded and applied' }, async (asked) => {
      expect(await applyCommand(ctx)).toBe(0);
      expect(asked).toEqual([{ command: 'reload' }]);
    });
    expect(commands).toEqual([]);
  });

  it("a config the daemon refused: the daemon was asked, and the error is the config's own (issues, exit 78)", async () => {
    const { ctx, dir, warnings } = context(INVALID);
    await withDaemon(dir, ctx.configPath, { ok: false, message: 'config not reloaded, the running one stays: invalid' }, async (asked) => {
      const err = await applyCommand(ctx).catch((e: unknown) => e);
      expect(asked).toEqual([{ command: 'reload' }]);
      expect(err).toBeInstanceOf(MwanError);
      expect(err).toMatchObject({ code: 'CONFIG_INVALID', exitStatus: 78 });
      expect((err as MwanError).issues).toEqual([expect.objectContaining({ path: '/policies/p/members/0/interface', line: 3 })]);
    });
    expect(warnings).toEqual([`the daemon (pid ${ALIVE}) refused ${ctx.configPath} and keeps running its previous config`]);
  });

  it("a valid config the daemon could not apply: the daemon's message", async () => {
    const { ctx, dir } = context(VALID);
    await withDaemon(dir, ctx.configPath, { ok: false, message: 'apply failed: nft exited 1' }, async () => {
      await expect(applyCommand(ctx)).rejects.toMatchObject({ code: 'DAEMON', message: expect.stringContaining('apply failed: nft exited 1') });
    });
  });

  it('another config file than the daemon runs: refused before asking it', async () => {
    const { ctx, dir } = context(VALID);
    await withDaemon(dir, '/etc/nft-mwan/other.json', { ok: true, message: 'reloaded' }, async (asked) => {
      await expect(applyCommand(ctx)).rejects.toMatchObject({ code: 'DAEMON', message: expect.stringContaining('uses /etc/nft-mwan/other.json') });
      expect(asked).toEqual([]);
    });
  });
});
