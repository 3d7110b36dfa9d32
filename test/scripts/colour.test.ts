// The quick-start scripts keep colour codes out of files: piped or redirected, what they run sees NO_COLOR.
import { execa } from 'execa';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPTS = fileURLToPath(new URL('../../scripts/', import.meta.url));

describe.each(['test.sh', 'demo.sh'])('scripts/%s', (name) => {
  // A copy of the script beside a bootstrap that does nothing, and an npm and a node that print what they see.
  const root = mkdtempSync(join(tmpdir(), 'nft-mwan-colour-'));
  const bin = join(root, 'stand-ins');
  mkdirSync(join(root, 'scripts'));
  mkdirSync(bin);
  for (const f of [name, 'colour.sh']) copyFileSync(join(SCRIPTS, f), join(root, 'scripts', f));
  writeFileSync(join(root, 'scripts', 'bootstrap.sh'), 'exit 0\n');
  for (const tool of ['npm', 'node']) {
    writeFileSync(join(bin, tool), '#!/bin/sh\necho "NO_COLOR=${NO_COLOR-unset}"\n');
    chmodSync(join(bin, tool), 0o755);
  }
  const env = { PATH: `${bin}:${process.env.PATH ?? ''}`, TERM: 'xterm' };
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('with its output going to a pipe or a file, runs everything with NO_COLOR=1', async () => {
    const r = await execa('bash', [join(root, 'scripts', name)], { env, extendEnv: false, reject: false, timeout: 20_000 });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('NO_COLOR=1');
  });

  it('on a terminal (script(1) gives it one), leaves colour on', async () => {
    const r = await execa('script', ['-qec', `bash ${join(root, 'scripts', name)}`, '/dev/null'], { env, extendEnv: false, reject: false, timeout: 20_000 });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim()).toBe('NO_COLOR=unset');
  });
});
