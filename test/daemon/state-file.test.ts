// The daemon's state file: written whole (no temp file left behind) and read back as written; anything that is
// not one of ours reads as "no state"; processAlive tells a live pid from a gone one.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { interfaceRecord, readState, readStateFile, setAsideState, STATE_FILE, writeState } from '../../src/daemon/state-file.js';
import { processAlive } from '../../src/system/process.js';
import { type DaemonState } from '../../src/model/state.js';
import { initialTracker, step } from '../../src/track/machine.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nft-mwan-state-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function sample(running = true): DaemonState {
  const t0 = Date.UTC(2025, 0, 2, 3, 4, 5);
  const wan1 = step(initialTracker('online', true, t0), null, { type: 'force', at: t0 + 1, down: true });
  return {
    version: 1,
    pid: 4242,
    running,
    configPath: '/etc/nft-mwan/config.json',
    startedAt: new Date(t0).toISOString(),
    updatedAt: new Date(t0 + 5_000).toISOString(),
    interfaces: {
      wan1: interfaceRecord(wan1, 'offline', t0 + 1, true),
      wan2: interfaceRecord(initialTracker('online', false, t0), 'down', t0, false),
    },
    lastApply: { at: new Date(t0 + 2).toISOString(), ok: true, error: null },
  };
}

describe('writeState / readState', () => {
  it('round-trips', async () => {
    const state = sample();
    await writeState(dir, state);
    expect(await readState(dir)).toEqual(state);
  });

  it('a second write replaces the first', async () => {
    await writeState(dir, sample(true));
    await writeState(dir, sample(false));
    expect((await readState(dir))?.running).toBe(false);
  });

  it('creates a missing state directory', async () => {
    const nested = join(dir, 'run', 'nft-mwan');
    await writeState(nested, sample());
    expect(await readState(nested)).toEqual(sample());
  });

  it('leaves no temp file behind', async () => {
    await writeState(dir, sample());
    await writeState(dir, sample(false));
    expect(readdirSync(dir)).toEqual([STATE_FILE]);
  });

  it('records an interface as the tracker and compile see it', () => {
    const r = sample().interfaces.wan1;
    expect(r).toMatchObject({
      state: 'offline',
      tracked: 'online',
      forcedDown: true,
      carrier: true,
      tracking: true,
      since: '2025-01-02T03:04:05.001Z',
      lastRound: null,
      lossPct: null,
    });
  });

  it('reads a missing file (or directory) as no state', async () => {
    expect(await readState(dir)).toBeNull();
    expect(await readState(join(dir, 'does', 'not', 'exist'))).toBeNull();
  });

  it.each([
    ['garbage', 'this is not { json'],
    ['a truncated file', JSON.stringify(sample()).slice(0, 40)],
    ['JSON null', 'null'],
    ['a number', '42'],
    ['a wrong version', JSON.stringify({ ...sample(), version: 2 })],
    ['no version', JSON.stringify({ ...sample(), version: undefined })],
    ['no interfaces', JSON.stringify({ ...sample(), interfaces: undefined })],
  ])('reads %s as no state', async (_what, text) => {
    writeFileSync(join(dir, STATE_FILE), text);
    expect(await readState(dir)).toBeNull();
  });

  it('throws on errors other than a missing file', async () => {
    // A directory where the file should be: EISDIR is a real problem, not "no daemon".
    mkdirSync(join(dir, STATE_FILE));
    await expect(readState(dir)).rejects.toMatchObject({ code: 'EISDIR' });
  });
});

describe('processAlive', () => {
  it('is true for this process', () => {
    expect(processAlive(process.pid)).toBe(true);
  });

  it('is false for a process that has exited', () => {
    const r = spawnSync('true');
    expect(r.status).toBe(0);
    expect(processAlive(r.pid as number)).toBe(false);
  });

  it('is false for a pid above any pid the kernel hands out', () => {
    expect(processAlive(2 ** 22 + 1)).toBe(false);
  });
});

describe('a failed write, a corrupt file', () => {
  it('a write that fails leaves no temp file behind (a full filesystem would collect one per write)', async () => {
    // The state file's name taken by a non-empty directory: the temp file is written, the rename fails.
    mkdirSync(join(dir, STATE_FILE, 'x'), { recursive: true });
    for (let i = 0; i < 3; i++) await expect(writeState(dir, sample())).rejects.toBeTruthy();
    expect(readdirSync(dir)).toEqual([STATE_FILE]);
  });

  it.each([
    ['garbage', 'this is not { json', /^not JSON/],
    ['JSON null', 'null', /not a version 1 state/],
    ['a wrong version', JSON.stringify({ ...sample(), version: 2 }), /not a version 1 state/],
  ])('%s is reported as corrupt, with why', async (_what, text, why) => {
    writeFileSync(join(dir, STATE_FILE), text);
    const r = await readStateFile(dir);
    expect(r.state).toBeNull();
    expect(r.corrupt).toMatch(why);
  });

  it('a missing file is not corrupt; a good one reads as written', async () => {
    expect(await readStateFile(dir)).toEqual({ state: null, corrupt: null });
    await writeState(dir, sample());
    expect(await readStateFile(dir)).toEqual({ state: sample(), corrupt: null });
  });

  it('setAsideState renames the file with a timestamp, keeping its content', async () => {
    writeFileSync(join(dir, STATE_FILE), 'broken');
    const aside = await setAsideState(dir, new Date(Date.UTC(2026, 11, 3, 10, 0, 0)));
    expect(aside).toBe(join(dir, `${STATE_FILE}.corrupt-2026-12-03T10-00-00-000Z`));
    expect(readdirSync(dir)).toEqual([`${STATE_FILE}.corrupt-2026-12-03T10-00-00-000Z`]);
  });
});
