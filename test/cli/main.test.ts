// The command line's own options: --version reads the package's version, wherever the code runs from.
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main, version } from '../../src/cli/main.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('nft-mwan --version', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it.each(['--version', '-V'])('%s prints "nft-mwan VERSION" from package.json and exits 0', async (flag) => {
    let printed = '';
    const status = await main([flag], (t) => {
      printed += t;
    });
    expect(status).toBe(0);
    expect(printed).toBe(`nft-mwan ${pkg.version}\n`);
  });

  it('takes the nearest package.json named nft-mwan, skipping other packages on the way up', () => {
    const root = mkdtempSync(join(tmpdir(), 'nft-mwan-version-'));
    dirs.push(root);
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'nft-mwan', version: '9.8.7' }));
    mkdirSync(join(root, 'dist', 'src', 'cli'), { recursive: true });
    writeFileSync(join(root, 'dist', 'package.json'), JSON.stringify({ name: 'something-else', version: '1.0.0' }));
    expect(version(join(root, 'dist', 'src', 'cli', 'main.js'))).toBe('9.8.7');
    expect(version(join(root, 'dist', 'nft-mwan.cjs'))).toBe('9.8.7');
  });

  it('is an internal error when no package.json of nft-mwan is above the module', () => {
    const root = mkdtempSync(join(tmpdir(), 'nft-mwan-version-'));
    dirs.push(root);
    expect(() => version(join(root, 'main.js'))).toThrow(/no package.json of nft-mwan above/);
  });
});
