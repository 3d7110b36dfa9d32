// The try follower: a confirmed try of the daemon's config file is taken up (once); a rollback, an old outcome or another file's is not.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TryFollower } from '../../src/daemon/try-follower.js';
import { loadConfig } from '../../src/config/load.js';
import type { ResolvedConfig } from '../../src/config/resolved.js';
import { configHash, TRY_OUTCOME_FILE, type TryOutcome } from '../../src/engine/trial.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nft-mwan-try-follower-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const configText = (gateway: string) =>
  JSON.stringify({
    interfaces: { wan1: { device: 'wan1', gateway } },
    policies: { p: { members: [{ interface: 'wan1' }] } },
    rules: [{ name: 'default', policy: 'p' }],
  });

async function load(path: string): Promise<ResolvedConfig> {
  const r = await loadConfig(path);
  if (!r.ok) throw new Error('the test config loads');
  return r.config;
}

async function harness() {
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, configText('192.0.2.1'), { mode: 0o600 });
  let running = await load(configPath);
  const adopted: string[] = [];
  const lines: string[] = [];
  const f = new TryFollower({
    stateDir: dir,
    configPath,
    config: () => running,
    adopt: async (c) => {
      running = c;
      adopted.push(c.interfaces.wan1?.gateway ?? '?');
    },
    log: { info: (m) => lines.push(`info: ${m}`), warn: (m) => lines.push(`warn: ${m}`) },
  });
  const decide = (o: Partial<TryOutcome> & Pick<TryOutcome, 'outcome' | 'at'>) =>
    writeFileSync(join(dir, TRY_OUTCOME_FILE), JSON.stringify({ version: 1, configPath, configHash: configHash(running), ...o }));
  return { f, configPath, adopted, lines, decide };
}

describe('TryFollower', () => {
  it('a confirm of the file as it stands is adopted once; looking again changes nothing', async () => {
    const h = await harness();
    await h.f.init();
    writeFileSync(h.configPath, configText('192.0.2.254'), { mode: 0o600 });
    h.decide({ outcome: 'confirm', at: Date.now(), configHash: configHash(await load(h.configPath)) });
    await h.f.follow();
    await h.f.follow();
    expect(h.adopted).toEqual(['192.0.2.254']);
  });

  it('a rollback keeps the running config, and says why the file on disk is not taken up', async () => {
    const h = await harness();
    await h.f.init();
    writeFileSync(h.configPath, configText('192.0.2.254'), { mode: 0o600 });
    h.decide({ outcome: 'rollback', at: Date.now() });
    await h.f.follow();
    expect(h.adopted).toEqual([]);
    expect(h.lines.some((l) => l.startsWith('warn: the try of') && l.includes('rolled back'))).toBe(true);
  });

  it('an outcome decided before the daemon started, one of another file, or one whose file changed since, is not adopted', async () => {
    const h = await harness();
    writeFileSync(h.configPath, configText('192.0.2.254'), { mode: 0o600 });
    const tried = configHash(await load(h.configPath));
    h.decide({ outcome: 'confirm', at: 1_000, configHash: tried });
    await h.f.init();
    await h.f.follow();
    h.decide({ outcome: 'confirm', at: Date.now(), configHash: tried, configPath: join(dir, 'other.json') });
    await h.f.follow();
    h.decide({ outcome: 'confirm', at: Date.now() + 1, configHash: 'not-the-file' });
    await h.f.follow();
    expect(h.adopted).toEqual([]);
    expect(h.lines).toContainEqual(expect.stringMatching(/^warn: the try of .* was confirmed, but the file no longer holds the config tried/));
  });

  it('stopped, it looks no more', async () => {
    const h = await harness();
    await h.f.init();
    writeFileSync(h.configPath, configText('192.0.2.254'), { mode: 0o600 });
    h.decide({ outcome: 'confirm', at: Date.now(), configHash: configHash(await load(h.configPath)) });
    h.f.stop();
    await h.f.follow();
    expect(h.adopted).toEqual([]);
  });
});
