import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readJsonFile, writeFileAtomic, writeFileAtomicSync } from '../../src/system/atomic-file.js';

const writers = [
  { name: 'writeFileAtomic', write: writeFileAtomic },
  { name: 'writeFileAtomicSync', write: async (path: string, text: string, mode: number) => Promise.resolve(writeFileAtomicSync(path, text, mode)) },
];

describe.each(writers)('$name', ({ write: writeFileAtomic }) => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nft-mwan-atomic-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('replaces the file whole and gives it the mode asked for, whatever the umask', async () => {
    const path = join(dir, 'state.json');
    const old = process.umask(0o077);
    try {
      await writeFileAtomic(path, 'one', 0o644);
      await writeFileAtomic(path, 'two', 0o644);
    } finally {
      process.umask(old);
    }
    expect(await readFile(path, 'utf8')).toBe('two');
    expect((await stat(path)).mode & 0o777).toBe(0o644);
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('leaves no temp file behind when the rename fails', async () => {
    const path = join(dir, 'taken');
    await mkdir(path); // a directory where the file should go: rename over it fails
    await expect(writeFileAtomic(path, 'x', 0o600)).rejects.toThrow();
    expect(await readdir(dir)).toEqual(['taken']);
  });

  it('two writes in flight both complete, and the file holds one of them whole', async () => {
    const path = join(dir, 'f');
    await Promise.all([writeFileAtomic(path, 'a'.repeat(100_000), 0o600), writeFileAtomic(path, 'b'.repeat(100_000), 0o600)]);
    const text = await readFile(path, 'utf8');
    expect([`${'a'.repeat(100_000)}`, `${'b'.repeat(100_000)}`]).toContain(text);
    expect(await readdir(dir)).toEqual(['f']);
  });
});

describe('readJsonFile', () => {
  it('reads back what was written, and gives null for a missing file or one that is not JSON', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nft-mwan-atomic-'));
    try {
      const path = join(dir, 'record.json');
      expect(await readJsonFile(path)).toBeNull();
      await writeFileAtomic(path, JSON.stringify({ pid: 7, at: [1, 2] }), 0o600);
      expect(await readJsonFile(path)).toEqual({ pid: 7, at: [1, 2] });
      await writeFileAtomic(path, '{"pid": 7', 0o600);
      expect(await readJsonFile(path)).toBeNull();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
