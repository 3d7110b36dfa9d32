// The quick-start scripts keep colour codes out of files: piped or redirected, what they run sees FORCE_TTY=false.
import { execa } from 'execa';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPTS = fileURLToPath(new URL('../../scripts/', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('vitest with its output in a pipe', () => {
  // One small test file, run by this project's vitest the way scripts/test.sh runs it, with TERM set as in a session.
  const vitest = (extra: Record<string, string>) =>
    execa(join(ROOT, 'node_modules', '.bin', 'vitest'), ['run', '--project', 'unit', 'test/cli/log.test.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', TERM: 'xterm', ...extra },
      extendEnv: false,
      reject: false,
      timeout: 60_000,
    });

  it('writes colour codes unless told the output is no terminal (why the scripts say so)', async () => {
    const r = await vitest({});
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('\x1b[');
  });

  it('writes none with FORCE_TTY=false', async () => {
    const r = await vitest({ FORCE_TTY: 'false' });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/Tests +3 passed/);
    expect(r.stdout).not.toContain('\x1b');
  });
});

describe.each(['test.sh', 'demo.sh'])('scripts/%s', (name) => {
  // A copy of the script beside a bootstrap that does nothing, and an npm and a node that print what they see.
  const root = mkdtempSync(join(tmpdir(), 'nft-mwan-colour-'));
  const bin = join(root, 'stand-ins');
  mkdirSync(join(root, 'scripts'));
  mkdirSync(bin);
  for (const f of [name, 'colour.sh']) copyFileSync(join(SCRIPTS, f), join(root, 'scripts', f));
  writeFileSync(join(root, 'scripts', 'bootstrap.sh'), 'exit 0\n');
  for (const tool of ['npm', 'node']) {
    writeFileSync(join(bin, tool), '#!/bin/sh\necho "FORCE_TTY=${FORCE_TTY-unset}"\n');
    chmodSync(join(bin, tool), 0o755);
  }
  const env = { PATH: `${bin}:${process.env.PATH ?? ''}`, TERM: 'xterm' };
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('with its output going to a pipe or a file, runs everything with FORCE_TTY=false (vitest then writes no colour codes)', async () => {
    const r = await execa('bash', [join(root, 'scripts', name)], { env, extendEnv: false, reject: false, timeout: 20_000 });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('FORCE_TTY=false');
  });

  it('on a terminal (script(1) gives it one), leaves colour on', async () => {
    const r = await execa('script', ['-qec', `bash ${join(root, 'scripts', name)}`, '/dev/null'], { env, extendEnv: false, reject: false, timeout: 20_000 });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim()).toBe('FORCE_TTY=unset');
  });
});
