// The npm package: `npm pack` ships the CLI and its docs but none of the repository's tests, lab or
// sources, and the tarball installed into an empty prefix runs: usage, config errors, the validator
// with its schema, libnftables in process through the installed koffi (in a namespace of the test's own).
// Nothing here touches the network configuration (no check, no apply without --print).
import { execa, execaSync } from 'execa';
import { existsSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const TIMEOUT = 180_000;

/** Files the package must hold. */
const REQUIRED = [
  'package.json',
  'README.md',
  'bin/nft-mwan',
  // What makes bin/nft-mwan CommonJS in an ES module package.
  'bin/package.json',
  // The compiled CLI bundled into one script, the config's generated validator inside.
  'dist/nft-mwan.cjs',
  'dist/THIRD-PARTY-LICENSES',
  'schema/config.schema.json',
  'contrib/nft-mwan.service',
  'docs/nft-mwan.md',
  'docs/errors.md',
  'docs/benchmarks.md',
  'CHANGELOG.md',
  'examples/config.json',
];

/** Paths the package must not hold: repository-only material, sources, build and test output. */
const FORBIDDEN: [string, RegExp][] = [
  ['tests', /^test\//],
  ['the namespace lab', /^lab\//],
  ['repository scripts (demo, benchmarks)', /^scripts\//],
  ['TypeScript sources', /^src\//],
  ['the compiled lab and scripts', /^dist\/(lab|scripts|test)\//],
  ['the unbundled modules (the bundle holds them)', /^dist\/src\//],
  ['installed dependencies', /(^|\/)node_modules\//],
  ['CI files', /^\.ci\//],
  ['TypeScript files', /\.(c|m)?ts$/],
  ['the tsc build info', /\.tsbuildinfo$/],
  ['source maps of sources not shipped', /\.map$/],
  ['packed tarballs', /\.tgz$/],
  ['test output', /^(bench-results|coverage|test-results)\/|\.log$/],
  ['raw benchmark figures (the report is docs/benchmarks.md)', /^docs\/.*\.json$/],
];

const COMMANDS = ['check', 'apply', 'status', 'stop', 'daemon', 'ifup', 'ifdown'];

/** The in-process test makes a network namespace: root only; skipped without it, except under CI (which runs as root). */
const root = process.getuid?.() === 0;
const skipNetns = !root && process.env.CI !== 'true';
if (skipNetns) console.warn('package.test.ts: skipping the in-process nft test: it makes a network namespace, and this run is not root');

/** The environment without what a surrounding `npm test` injects for its own package. */
function npmEnv(): NodeJS.ProcessEnv {
  // nft as a command: the library is only ever called inside a namespace (the test of it below makes its own).
  const env: NodeJS.ProcessEnv = { NFT_MWAN_NFT: 'cli' };
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_(lifecycle_|package_)|^npm_config_(local_prefix|global_prefix)$|^NFT_MWAN_NFT$/i.test(k)) continue;
    env[k] = v;
  }
  return env;
}

function npmMissing(): string | null {
  const r = execaSync('npm', ['--version'], { reject: false, env: npmEnv(), extendEnv: false });
  return r.exitCode === 0 ? null : `npm is not available (${r.failed && r.exitCode === undefined ? r.shortMessage : `exit ${r.exitCode}`})`;
}

type PackResult = {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: { path: string; size: number; mode: number }[];
};

function describePackage(name: string, fn: () => void): void {
  const missing = npmMissing();
  if (missing === null) {
    describe(name, fn);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('has npm', () => {
        throw new Error(`${missing} (CI=true, so this fails instead of skipping)`);
      });
    });
  } else {
    console.warn(`skipping the package test: ${missing}`);
    describe.skip(`${name} (skipped: ${missing})`, fn);
  }
}

/** Every file under `dir`, relative to it. */
async function walk(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p, base)));
    else out.push(p.slice(base.length + 1));
  }
  return out;
}

/** Module specifiers of a compiled file: static imports and re-exports, dynamic imports, require() calls. */
function importSpecifiers(js: string): string[] {
  const patterns = [
    /^\s*(?:import|export)\s[^;]*?\sfrom\s*(['"])([^'"\n]+)\1/gm,
    /^\s*import\s*(['"])([^'"\n]+)\1/gm,
    /\bimport\(\s*(['"])([^'"\n]+)\1\s*\)/g,
    // require() calls, also as a bundler renames them (require2); not one quoted as code in a string.
    /(?<!['"`])\brequire\d*\(\s*(['"])([^'"\n]+)\1\s*\)/g,
  ];
  return patterns.flatMap((re) => [...js.matchAll(re)].map((m) => m[2]!));
}

describePackage('the npm package', () => {
  let tmp: string;
  let pack: PackResult;
  let prefix: string;
  /** The installed package's directory. */
  let installed: string;
  /** The installed command, as npm linked it. */
  let bin: string;

  const run = (file: string, args: string[], opts: { cwd?: string } = {}) =>
    execa(file, args, { reject: false, env: npmEnv(), extendEnv: false, timeout: 120_000, cwd: opts.cwd ?? tmp });

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'nft-mwan-pack-'));
    // Runs `prepare` (the build) first, as publishing would.
    const packed = await run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: REPO });
    if (packed.exitCode !== 0) throw new Error(`npm pack exited ${packed.exitCode}:\n${packed.stderr}\n${packed.stdout}`);
    const results = JSON.parse(packed.stdout) as PackResult[];
    expect(results).toHaveLength(1);
    pack = results[0]!;
    console.info(`npm pack: ${pack.filename}, ${pack.entryCount} entries, ${pack.size} bytes packed, ${pack.unpackedSize} bytes unpacked`);

    prefix = join(tmp, 'prefix');
    const tarball = join(tmp, pack.filename);
    const inst = await run('npm', ['install', '--global', '--prefix', prefix, '--no-audit', '--no-fund', tarball]);
    if (inst.exitCode !== 0) throw new Error(`npm install exited ${inst.exitCode}:\n${inst.stderr}\n${inst.stdout}`);
    installed = join(prefix, 'lib', 'node_modules', 'nft-mwan');
    bin = join(prefix, 'bin', 'nft-mwan');
  }, TIMEOUT);

  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('holds the CLI, its compiled code and schema, docs, the systemd unit and the example config', () => {
    const paths = new Set(pack.files.map((f) => f.path));
    expect(REQUIRED.filter((p) => !paths.has(p))).toEqual([]);
    const dist = [...paths].filter((p) => p.startsWith('dist/'));
    // (and the man page, when it was built: `npm run man`, as the .deb's build does)
    expect(dist.filter((p) => p !== 'dist/nft-mwan.8').sort()).toEqual(['dist/THIRD-PARTY-LICENSES', 'dist/nft-mwan.cjs']);
    expect(pack.files.find((f) => f.path === 'bin/nft-mwan')!.mode & 0o111).not.toBe(0);
  });

  it('holds no tests, lab, scripts, sources or build and test output', () => {
    const bad = pack.files.flatMap((f) => FORBIDDEN.filter(([, re]) => re.test(f.path)).map(([what]) => `${f.path} (${what})`));
    expect(bad).toEqual([]);
  });

  it('installed, the CLI is one bundled script that requires nothing but Node itself and koffi, with the bundled licences', async () => {
    const pkg = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    // execa and ajv's runtime helpers are inside the bundle; koffi (the FFI with its native build) is installed beside it.
    expect(Object.keys(pkg.dependencies ?? {})).toEqual(['koffi']);
    const files = (await walk(join(installed, 'dist'))).filter((f) => /\.[mc]?js$/.test(f));
    expect(files).toEqual(['nft-mwan.cjs']);
    const specs = new Set(importSpecifiers(await readFile(join(installed, 'dist', 'nft-mwan.cjs'), 'utf8')));
    // The scan finds requires (Node's own modules), and none but koffi leaves the bundle; no import() (a script
    // compiled with vm.Script, as bin/nft-mwan does, has no dynamic import).
    expect(specs).toContain('node:child_process');
    expect([...specs].filter((s) => !isBuiltin(s))).toEqual(['koffi']);
    expect(await readFile(join(installed, 'dist', 'nft-mwan.cjs'), 'utf8')).not.toMatch(/\bimport\(\s*['"]/);
    // What the bundle holds, with each package's licence text.
    const licences = await readFile(join(installed, 'dist', 'THIRD-PARTY-LICENSES'), 'utf8');
    for (const name of ['execa', 'ajv', 'cross-spawn']) expect(licences).toMatch(new RegExp(`^${name} \\d+\\.\\d+\\.\\d+ \\(`, 'm'));
    expect(existsSync(join(installed, 'node_modules', 'koffi', 'package.json'))).toBe(true);
  });

  it.skipIf(skipNetns)('installed, nft runs in process: the CLI finds koffi and libnftables (inside a namespace of its own)', async () => {
    if (!root) throw new Error('this test makes a network namespace and needs root (CI=true, so this fails instead of skipping)');
    const ns = `nft-mwan-pack-${process.pid}`;
    const added = await run('ip', ['netns', 'add', ns]);
    if (added.exitCode !== 0) throw new Error(`ip netns add ${ns}: ${added.stderr}`);
    try {
      const example = JSON.parse(await readFile(join(installed, 'examples/config.json'), 'utf8')) as { interfaces: Record<string, { gateway?: string }> };
      Object.values(example.interfaces).forEach((iface, i) => (iface.gateway = `192.0.2.${i + 1}`));
      const file = join(tmp, 'example-lib.json');
      await writeFile(file, JSON.stringify(example));
      // apply --print lists the (absent) table and changes nothing, in an empty namespace.
      const r = await run('ip', ['netns', 'exec', ns, 'env', 'NFT_MWAN_NFT=lib', bin, 'apply', '--print', '-v', '--config', file]);
      expect(r.stderr).toContain('debug: nft: in process through libnftables.so.1 (NFT_MWAN_NFT=lib)');
      expect(r.stderr).toMatch(/run: nft -j list table inet nft_mwan \(libnftables\)/);
      expect(r.exitCode, r.stderr).toBe(0);
    } finally {
      await run('ip', ['netns', 'del', ns]);
    }
  });

  it('installed, `nft-mwan --help` prints the usage with every command', async () => {
    const r = await run(bin, ['--help']);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^usage: nft-mwan COMMAND/);
    for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${c}\\s`, 'm'));
  });

  it("installed, `nft-mwan --version` prints the package's version", async () => {
    const r = await run(bin, ['--version']);
    expect(r.exitCode).toBe(0);
    const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(r.stdout).toBe(`nft-mwan ${version}`);
  });

  it('installed, a config that cannot be read is a config error (78), before anything touches the system', async () => {
    const r = await run(bin, ['apply', '--print', '--config', '/nonexistent']);
    expect(r.stderr).toMatch(/cannot read the config file/);
    expect(r.exitCode).toBe(78);
  });

  it('installed, an invalid config is rejected by the schema (78)', async () => {
    const file = join(tmp, 'invalid.json');
    await writeFile(file, JSON.stringify({ bogus: 1 }));
    const r = await run(bin, ['apply', '--print', '--config', file]);
    expect(r.stderr).toMatch(/invalid config/);
    expect(r.stderr).toMatch(/missing required property "interfaces"/);
    expect(r.stderr).toMatch(/unknown property "bogus"/);
    expect(r.exitCode).toBe(78);
  });

  it('installed, the shipped example config validates and compiles (apply --print: reads, changes nothing)', async () => {
    // The example's "auto" gateways are looked up in the main table; pinned to addresses here, so the
    // result does not depend on this machine's routes. Everything else is the example as shipped.
    const example = JSON.parse(await readFile(join(installed, 'examples/config.json'), 'utf8')) as { interfaces: Record<string, { gateway?: string }> };
    Object.values(example.interfaces).forEach((iface, i) => {
      if (iface.gateway === 'auto') iface.gateway = `192.0.2.${i + 1}`;
    });
    const file = join(tmp, 'example.json');
    await writeFile(file, JSON.stringify(example));
    const r = await run(bin, ['apply', '--print', '--config', file]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/"nftables"/);
  });
});
