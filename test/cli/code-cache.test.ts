// bin/nft-mwan's code cache: made at the first run of a command, used (not rewritten) by the next, rewritten when V8
// refuses it, never made where others could write it, and never what decides whether a command works.
import { execa } from 'execa';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/nft-mwan', import.meta.url));
const root = process.getuid?.() === 0;
if (process.env.CI === 'true' && !root) throw new Error('the code cache test needs root (CI runs as root)');
if (!root) console.warn('code-cache.test.ts: skipped: the code cache is root only, and this run is not root');

describe.skipIf(!root)('the code cache of bin/nft-mwan', () => {
  let tmp: string;
  let dir: string;
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'nft-mwan-cc-'));
    dir = join(tmp, 'cache');
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  const run = (args: string[], env: Record<string, string> = { NFT_MWAN_CODE_CACHE: dir }, uid?: number) =>
    uid === undefined
      ? execa(BIN, args, { reject: false, timeout: 20_000, env })
      : execa('setpriv', ['--reuid', String(uid), '--regid', String(uid), '--clear-groups', BIN, ...args], { reject: false, timeout: 20_000, env });
  const files = () => (existsSync(dir) ? readdirSync(dir).sort() : []);

  it('the first run of a command stores its compiled code, one file per command; the next run uses it as it is', async () => {
    const first = await run(['--version']);
    expect(first.exitCode).toBe(0);
    expect(files()).toEqual([expect.stringMatching(new RegExp(`^${process.version}-${process.arch}-\\d+-\\d+-\\d+\\.other\\.bin$`))]);
    const file = join(dir, files()[0]!);
    expect(statSync(file).size).toBeGreaterThan(10_000);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const before = statSync(file);

    const second = await run(['--version']);
    expect(second.stdout).toBe(first.stdout);
    // Accepted, so not written again: the same file.
    expect(statSync(file).ino).toBe(before.ino);
    expect(statSync(file).mtimeMs).toBe(before.mtimeMs);

    const help = await run(['import-uci', '--help']);
    expect(help.exitCode).toBe(0);
    expect(files().map((f) => f.replace(/^.*\.(\w[\w-]*)\.bin$/, '$1'))).toEqual(['import-uci', 'other']);
  });

  it('a cache V8 refuses (damaged) costs nothing but the compiling: the command works and the cache is made again', async () => {
    await run(['--version']);
    const file = join(dir, files()[0]!);
    const size = statSync(file).size;
    writeFileSync(file, Buffer.alloc(size, 0x5a), { mode: 0o600 });
    const r = await run(['--version']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^nft-mwan \d+\.\d+\.\d+/);
    expect(statSync(file).size).toBeGreaterThan(0);
    const again = await execa('cmp', ['-s', file, '-'], { input: Buffer.alloc(size, 0x5a), reject: false });
    expect(again.exitCode).toBe(1);
  });

  it('the caches of another bundle or Node version are removed when a new one is written', async () => {
    const stale = 'v18.0.0-x64-1-2-3.apply.bin';
    await run(['--version']);
    writeFileSync(join(dir, stale), 'old', { mode: 0o600 });
    await run(['import-uci', '--help']);
    expect(files()).not.toContain(stale);
    expect(files()).toHaveLength(2);
  });

  it('none where others can write, none for a user other than root, none when turned off; the command works each time', async () => {
    // Turned off: nothing made.
    const r0 = await run(['--version'], { NFT_MWAN_CODE_CACHE: 'off' });
    expect(r0.exitCode).toBe(0);
    expect(existsSync(dir)).toBe(false);
    // A directory others can write: not used.
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    const r1 = await run(['--version']);
    expect(r1.exitCode).toBe(0);
    expect(files()).toEqual([]);
    chmodSync(dir, 0o700);
    // Not root: no cache, even in a directory root made for it.
    chmodSync(tmp, 0o755);
    const r2 = await run(['--version'], { NFT_MWAN_CODE_CACHE: dir }, 65534);
    expect(r2.exitCode).toBe(0);
    expect(files()).toEqual([]);
    // A relative directory is not used.
    const r3 = await run(['--version'], { NFT_MWAN_CODE_CACHE: 'cache' });
    expect(r3.exitCode).toBe(0);
    expect(files()).toEqual([]);
  });
});
