// scripts/bootstrap.sh against stand-in apt, dpkg, npm and node (first in PATH), in a copy of its own folder layout:
// a second run does nothing, a changed lock re-installs, a changed source rebuilds, and Node 18 is not installed.
import { execa } from 'execa';
import { appendFileSync, chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../scripts/bootstrap.sh', import.meta.url));

/** A checkout with the script, a lock file and a source, and stand-ins that log each call to `calls`. */
function checkout(options: { nodeMajor: number; aptNode: number; installed: boolean }) {
  const root = mkdtempSync(join(tmpdir(), 'nft-mwan-bootstrap-'));
  const bin = join(root, 'stand-ins');
  mkdirSync(join(root, 'scripts'));
  mkdirSync(join(root, 'src'));
  mkdirSync(bin);
  copyFileSync(SCRIPT, join(root, 'scripts', 'bootstrap.sh'));
  writeFileSync(join(root, 'package-lock.json'), '{"lockfileVersion": 3}\n');
  writeFileSync(join(root, 'src', 'main.ts'), 'export {};\n');
  const calls = join(root, 'calls');
  writeFileSync(calls, '');
  const tool = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $*" >> ${calls}\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  tool('id', 'echo 0');
  tool('apt-get', 'exit 0');
  tool('apt-cache', `echo "nodejs:"; echo "  Candidate: ${options.aptNode}.19.0+dfsg-6"`);
  tool('dpkg-query', options.installed ? "printf 'install ok installed'" : 'exit 1');
  tool('perf', 'exit 0');
  tool('node', `case "$1" in --version) echo v${options.nodeMajor}.0.0;; *) printf ${options.nodeMajor};; esac`);
  tool('npm', 'mkdir -p node_modules dist && touch dist/nft-mwan.cjs');
  // The stand-ins log as they are called; the log file itself is not called.
  const run = async () => {
    writeFileSync(calls, '');
    const r = await execa('bash', [join(root, 'scripts', 'bootstrap.sh')], {
      reject: false,
      env: { PATH: `${bin}:${process.env.PATH ?? ''}` },
      timeout: 30_000,
    });
    const log = readFileSync(calls, 'utf8')
      .split('\n')
      .filter((l) => /^(apt-get|npm) /.test(l));
    return { ...r, log };
  };
  return { root, run };
}

describe('scripts/bootstrap.sh', () => {
  const roots: string[] = [];
  afterEach(() => {
    for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
  });

  it('installs once, then skips apt, npm ci and the build until the lock or a source changes', async () => {
    const c = checkout({ nodeMajor: 20, aptNode: 20, installed: true });
    roots.push(c.root);
    const first = await c.run();
    expect(first.exitCode).toBe(0);
    expect(first.log).toEqual(['npm ci --no-audit --no-fund']);

    const second = await c.run();
    expect(second.exitCode).toBe(0);
    expect(second.log).toEqual([]);
    expect(second.stderr).toMatch(/up to date/);

    appendFileSync(join(c.root, 'src', 'main.ts'), 'export const x = 1;\n');
    const rebuilt = await c.run();
    expect(rebuilt.log).toEqual(['npm run --silent prepare']);
    expect((await c.run()).log).toEqual([]);

    writeFileSync(join(c.root, 'package-lock.json'), '{"lockfileVersion": 3, "changed": true}\n');
    expect((await c.run()).log).toEqual(['npm ci --no-audit --no-fund']);
  });

  it('installs only the packages that are missing', async () => {
    const c = checkout({ nodeMajor: 20, aptNode: 20, installed: false });
    roots.push(c.root);
    const r = await c.run();
    expect(r.exitCode).toBe(0);
    expect(r.log[0]).toBe('apt-get update -qq');
    expect(r.log[1]).toMatch(/^apt-get install .* nftables iproute2 conntrack /);
  });

  it('with Node 18 offered by apt (Debian 12), says what to do and installs nothing', async () => {
    const c = checkout({ nodeMajor: 0, aptNode: 18, installed: false });
    roots.push(c.root);
    const r = await c.run();
    expect(r.exitCode).toBe(1);
    expect(r.log).toEqual([]);
    expect(r.stderr).toMatch(/needs Node.js >= 20/);
    expect(r.stderr).toMatch(/offers .*nodejs package \(major 18\)/);
    expect(r.stderr).toMatch(/NodeSource/);
  });
});
