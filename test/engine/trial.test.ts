// The try's record on disk: one claimer decides, the outcome is left for the daemon, and the daemon's hold lasts until the rollback is done.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { claimTry, configHash, readTry, readTryOutcome, settleTry, tryHold, writeTry, type TryRecord } from '../../src/engine/trial.js';
import type { NftMwanConfig } from '../../src/generated/config.js';

const tried: NftMwanConfig = { interfaces: { wan1: { device: 'wan1', gateway: '198.51.100.1' } }, policies: { p: { members: [{ interface: 'wan1' }] } } };

// A process that is alive (this one is, but claimers are this process too): a sleeping child.
const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
afterAll(() => sleeper.kill());
const DEAD = 2 ** 22 + 12345; // above the default pid_max

function record(dir: string, over: Partial<TryRecord> = {}): Promise<void> {
  return writeTry(dir, {
    version: 1,
    pid: sleeper.pid as number,
    watchdogPid: null,
    deadline: Date.now() + 60_000,
    configPath: '/etc/nft-mwan/config.json',
    configHash: configHash(tried),
    table: { family: 'inet', name: 'nft_mwan' },
    protocol: 77,
    snapshot: { listing: null, routing: { rules: [], routes: [] } },
    ...over,
  });
}

describe('a try decided on disk', () => {
  it.each(['confirm', 'rollback'] as const)(
    'a %s leaves the outcome with the tried config for the daemon; only the first claimer gets the record',
    async (outcome) => {
      const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-trial-'));
      await record(dir);
      const before = Date.now();
      expect((await claimTry(dir, outcome))?.configHash).toBe(configHash(tried));
      expect(await claimTry(dir, outcome === 'confirm' ? 'rollback' : 'confirm')).toBeNull();
      expect(await readTry(dir)).toBeNull();
      const o = await readTryOutcome(dir);
      expect(o).toMatchObject({ outcome, configPath: '/etc/nft-mwan/config.json', configHash: configHash(tried) });
      expect(o?.at).toBeGreaterThanOrEqual(before);
    },
  );

  it.each([
    ['the try process is alive', { pid: -1 }, /a try \(pid \d+\) is pending/],
    ['only its watchdog is alive', { pid: DEAD, watchdogPid: -1 }, /a try \(pid \d+\) is pending/],
    ['both are gone', { pid: DEAD, watchdogPid: DEAD }, null],
  ] as const)('the daemon holds while a try is pending and %s', async (_what, over, hold) => {
    const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-trial-'));
    const pids = Object.fromEntries(Object.entries(over).map(([k, v]) => [k, v === -1 ? sleeper.pid : v]));
    await record(dir, pids);
    const got = await tryHold(dir);
    if (hold === null) expect(got).toBeNull();
    else expect(got).toMatch(hold);
  });

  it('the daemon holds during a rollback until it is settled, and not after a confirm', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-trial-'));
    await record(dir, { pid: DEAD });
    // A try started long before its rollback (a 10 minute deadline): the hold is as old as the rollback.
    const started = new Date(Date.now() - 600_000);
    utimesSync(join(dir, 'try.json'), started, started);
    await claimTry(dir, 'rollback');
    expect(await tryHold(dir)).toMatch(new RegExp(`being rolled back \\(pid ${process.pid}\\)`));
    await settleTry(dir, 'rollback');
    expect(await tryHold(dir)).toBeNull();
    expect(readdirSync(dir).filter((n) => n.startsWith('try.'))).toEqual([]);
    await record(dir, { pid: DEAD });
    await claimTry(dir, 'confirm');
    expect(await tryHold(dir)).toBeNull();
  });

  it('no longer holds for a rollback claim a minute old: its decider died and the pid lives on in another process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-trial-'));
    await record(dir, { pid: DEAD });
    await claimTry(dir, 'rollback');
    const claim = readdirSync(dir).find((n) => n.startsWith('try.rollback.')) as string;
    const old = new Date(Date.now() - 61_000);
    utimesSync(join(dir, claim), old, old);
    expect(await tryHold(dir)).toBeNull();
  });

  it('tells configs apart by content', () => {
    expect(configHash(tried)).toBe(configHash(JSON.parse(JSON.stringify(tried)) as NftMwanConfig));
    expect(configHash({ ...tried, rules: [{ name: 'r', policy: 'p' }] })).not.toBe(configHash(tried));
  });
});
