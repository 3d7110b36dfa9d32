// CI's closing lines (scripts/ci-report.mjs), on reports and logs this project's vitest writes for a scratch suite:
// counts of every pass; for a pass not clean, the tests by name and the runner's own error sections, a hook that
// threw included (vitest counts its tests as skipped, not failed); exit 1 unless every pass is clean.
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const REPORT = join(ROOT, 'scripts', 'ci-report.mjs');

const SUITES = {
  clean: `import { it, expect } from 'vitest';\nit('adds', () => expect(1 + 1).toBe(2));\n`,
  hook: `import { beforeAll, describe, it, expect } from 'vitest';
describe('a lab', () => {
  beforeAll(() => { throw new Error('the lab could not be built: wan2 never came up'); });
  it('first', () => expect(1).toBe(1));
  it('second', () => expect(1).toBe(1));
});\n`,
  failing: `import { it, expect } from 'vitest';\nit('compares', () => expect('got').toBe('wanted'));\nit.skip('left out', () => {});\n`,
};

describe('scripts/ci-report.mjs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-ci-report-'));
  const runs: Record<string, { report: string; log: string }> = {};

  beforeAll(async () => {
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
    for (const [name, text] of Object.entries(SUITES)) {
      writeFileSync(join(dir, `${name}.test.ts`), text);
      const report = join(dir, `${name}.json`);
      const r = await execa(
        join(ROOT, 'node_modules', '.bin', 'vitest'),
        ['run', '--root', dir, `${name}.test.ts`, '--reporter=default', '--reporter=json', `--outputFile=${report}`],
        {
          cwd: dir,
          reject: false,
          all: true,
          timeout: 60_000,
          env: { FORCE_TTY: 'false', CI: '' },
        },
      );
      const log = join(dir, `${name}.log`);
      writeFileSync(log, r.all);
      runs[name] = { report, log };
    }
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const report = (...passes: [string, string][]) =>
    execa(
      'node',
      [REPORT, ...passes.flatMap(([label, name]) => [label, runs[name]?.report ?? join(dir, 'none.json'), runs[name]?.log ?? join(dir, 'none.log')])],
      {
        reject: false,
      },
    );

  it('all clean: one line of counts, exit 0', async () => {
    const r = await report(['main', 'clean'], ['again', 'clean']);
    expect(r.stdout).toBe('2 passed, 0 failed, 0 skipped');
    expect(r.exitCode).toBe(0);
  });

  it('a hook that threw: its tests by name, the file failed outside its tests, and the error itself', async () => {
    const r = await report(['main', 'clean'], ['lab', 'hook']);
    expect(r.exitCode).toBe(1);
    const lines = r.stdout.split('\n');
    // The counts close the output, after the short account: the end of a long log is what gets read.
    expect(lines.at(-1)).toBe('1 passed, 0 failed, 2 skipped');
    expect(lines.at(-2)).toMatch(/^ {2}Error: the lab could not be built: wan2 never came up/);
    expect(r.stdout).toContain('=== lab: not clean ===');
    expect(r.stdout).not.toContain('=== main');
    expect(r.stdout).toMatch(/hook\.test\.ts: the file failed outside its tests/);
    expect(r.stdout).toMatch(/SKIPPED .*hook\.test\.ts > a lab first/);
    expect(r.stdout).toMatch(/SKIPPED .*hook\.test\.ts > a lab second/);
    expect(r.stdout).toContain('the lab could not be built: wan2 never came up');
    expect(r.stdout).not.toContain('\x1b[');
  });

  it('a failed test and a skipped one: both by name, with the assertion the runner printed', async () => {
    const r = await report(['main', 'failing']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout.split('\n').at(-1)).toBe('0 passed, 1 failed, 1 skipped');
    expect(r.stdout).toMatch(/FAILED {2}.*failing\.test\.ts > compares/);
    expect(r.stdout).toMatch(/SKIPPED .*failing\.test\.ts > left out/);
    expect(r.stdout).toMatch(/Expected: "wanted"/);
  });

  it('a pass that wrote no report is not clean', async () => {
    const r = await report(['main', 'clean'], ['nft 1.1', 'never-ran']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain('=== nft 1.1: not clean ===');
    expect(r.stdout).toContain('no test report in');
  });
});
