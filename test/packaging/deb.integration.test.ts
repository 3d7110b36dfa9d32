// The Debian package: `npm run deb` builds it, lintian finds no error, dpkg installs it, the installed command
// checks, applies (nft in process, through the packaged koffi) and stops inside a namespace this test creates
// (never the host's), and purge removes it all.
import { execa, type Options } from 'execa';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = new URL('../../', import.meta.url).pathname;
const { version } = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string };
const ARCH = (await execa('dpkg', ['--print-architecture'], { reject: false })).stdout.trim();
const DEB = join(REPO, 'dist', `nft-mwan_${version}_${ARCH}.deb`);
const NS = `nmdeb-${process.pid}`;
const CODE_CACHE = '/var/cache/nft-mwan/code-cache';
const TOOLS = ['dpkg-deb', 'lintian', 'pandoc', 'systemd-analyze', 'man', 'ip', 'nft'];
const missing = TOOLS.filter((t) => !existsSync(`/usr/bin/${t}`) && !existsSync(`/usr/sbin/${t}`) && !existsSync(`/sbin/${t}`));
// CI installs every tool (.ci/run): there the test never skips.
if (process.env.CI === 'true' && missing.length) throw new Error(`the packaging test needs ${missing.join(', ')}`);
if (process.env.CI === 'true' && process.getuid?.() !== 0) throw new Error('the packaging test needs root (CI runs as root)');
const canRun = missing.length === 0 && process.getuid?.() === 0;

const undo: (() => Promise<unknown>)[] = [];
let work = '';
const sh = (file: string, args: string[], o: Options = {}) => execa(file, args, { reject: false, all: true, ...o });
/** Runs in the test's namespace: the network state it changes is that namespace's only. */
const inNs = (file: string, args: string[]) => sh('ip', ['netns', 'exec', NS, file, ...args]);
const ok = async (p: ReturnType<typeof sh>) => {
  const r = await p;
  if (r.exitCode !== 0) throw new Error(`${r.command} exited ${r.exitCode}:\n${r.all}`);
  return r;
};

describe.skipIf(!canRun)('the Debian package', () => {
  beforeAll(async () => {
    const started = Date.now();
    await ok(sh('node', ['scripts/build-deb.mjs'], { cwd: REPO }));
    console.log(`npm run deb: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    work = await mkdtemp(join(tmpdir(), 'nft-mwan-deb-'));
    undo.push(() => rm(work, { recursive: true, force: true }));
    await ok(sh('ip', ['netns', 'add', NS]));
    undo.push(() => sh('ip', ['netns', 'del', NS]));
    // The example's two WANs, as veth pairs with both ends inside the namespace: wan1 with a fixed gateway,
    // wan2 with "gateway": "auto" found through the main table's default route.
    for (const [dev, addr] of [
      ['wan1', '198.51.100.2/24'],
      ['wan2', '203.0.113.2/24'],
    ] as const) {
      await ok(inNs('ip', ['link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}-peer`]));
      await ok(inNs('ip', ['link', 'set', `${dev}-peer`, 'up']));
      await ok(inNs('ip', ['addr', 'add', addr, 'dev', dev]));
      await ok(inNs('ip', ['link', 'set', dev, 'up']));
    }
    await ok(inNs('ip', ['link', 'set', 'lo', 'up']));
    await ok(inNs('ip', ['route', 'add', 'default', 'via', '203.0.113.1', 'dev', 'wan2']));
  }, 300_000);

  afterAll(async () => {
    for (const step of undo.reverse()) await step().catch((e: unknown) => console.error(`undo: ${String(e)}`));
  }, 120_000);

  it('builds nft-mwan_VERSION_ARCH.deb holding the CLI, koffi for this architecture, the unit, the man page, the schema, the hooks and the docs', async () => {
    const listing = (await ok(sh('dpkg-deb', ['--contents', DEB]))).stdout;
    const paths = listing.split('\n').map((l) => l.replace(/^.* \.(\/\S*).*$/, '$1').replace(/ -> .*$/, ''));
    for (const p of [
      '/usr/sbin/nft-mwan',
      '/usr/lib/nft-mwan/dist/nft-mwan.cjs',
      '/usr/lib/nft-mwan/bin/package.json',
      '/usr/lib/nft-mwan/bin/nft-mwan',
      '/usr/lib/nft-mwan/nft-mwan-dispatch',
      '/usr/lib/nft-mwan/node_modules/koffi/package.json',
      '/usr/lib/systemd/system/nft-mwan.service',
      '/usr/share/man/man8/nft-mwan.8.gz',
      '/usr/share/nft-mwan/config.schema.json',
      '/usr/share/doc/nft-mwan/copyright',
      '/usr/share/doc/nft-mwan/changelog.gz',
      '/usr/share/doc/nft-mwan/examples/config.json',
      '/etc/networkd-dispatcher/routable.d/50-nft-mwan',
      '/etc/NetworkManager/dispatcher.d/90-nft-mwan',
      '/etc/network/if-up.d/nft-mwan',
      '/etc/network/if-post-down.d/nft-mwan',
      '/etc/nft-mwan/hooks.d/',
    ])
      expect(paths, p).toContain(p);
    // One script: no module of the split bundle of earlier versions.
    expect(paths.filter((p) => p.startsWith('/usr/lib/nft-mwan/dist/') && /\.m?js$/.test(p))).toEqual([]);
    // koffi's native build: this architecture's glibc one, nothing else.
    expect(paths.filter((p) => p.endsWith('.node'))).toEqual([
      `/usr/lib/nft-mwan/node_modules/@koromix/koffi-${ARCH === 'amd64' ? 'linux-x64' : 'linux-arm64'}/${ARCH === 'amd64' ? 'linux_x64' : 'linux_arm64'}/koffi.node`,
    ]);
    // No config file in /etc/nft-mwan: the admin's own is never replaced by an upgrade.
    expect(paths.filter((p) => p.startsWith('/etc/nft-mwan/') && !p.endsWith('/'))).toEqual([]);
    const fields = (await ok(sh('dpkg-deb', ['--field', DEB, 'Package', 'Version', 'Architecture', 'Depends']))).stdout;
    expect(fields).toContain(`Version: ${version}`);
    expect(fields).toContain(`Architecture: ${ARCH}`);
    expect(fields).toContain('Depends: nodejs (>= 20), libc6 (>= 2.25), libstdc++6, libgcc-s1, libnftables1, nftables, iproute2, conntrack, iputils-ping');
    const conffiles = (await ok(sh('sh', ['-c', `dpkg-deb --ctrl-tarfile '${DEB}' | tar -xO ./conffiles`]))).stdout;
    expect(conffiles.split('\n').filter(Boolean).sort()).toEqual(paths.filter((p) => p.startsWith('/etc/') && !p.endsWith('/')).sort());
  });

  it('lintian reports no error', async () => {
    const r = await sh('lintian', ['--info', '--pedantic', '--display-info', DEB]);
    const tags = r.stdout.split('\n').filter((l) => /^[EWIPX]: /.test(l));
    console.log(`lintian: ${tags.length ? `\n${tags.join('\n')}` : 'no tags'}`);
    expect(tags.filter((l) => l.startsWith('E: '))).toEqual([]);
    expect(r.exitCode).toBe(0);
  });

  it('installs, checks, applies and stops inside the namespace, then purges to nothing', async () => {
    // dpkg runs in the namespace as well: its maintainer scripts can touch no network state but the test's.
    let r = await inNs('dpkg', ['-i', DEB]);
    if (r.exitCode !== 0) await ok(inNs('apt-get', ['install', '-f', '-y', '-q']));
    undo.push(() => inNs('dpkg', ['--purge', 'nft-mwan']));
    expect((await ok(sh('dpkg-query', ['-W', '-f', '${Status} ${Version}', 'nft-mwan']))).stdout).toBe(`install ok installed ${version}`);

    expect((await ok(sh('/usr/sbin/nft-mwan', ['--version']))).stdout).toContain(version);
    // The man page, found by man(1) by name, renders with its sections.
    expect((await ok(sh('man', ['-w', 'nft-mwan']))).stdout.trim()).toBe('/usr/share/man/man8/nft-mwan.8.gz');
    const page = (await ok(sh('man', ['-l', '/usr/share/man/man8/nft-mwan.8.gz'], { env: { MANWIDTH: '80', MANPAGER: 'cat', LC_ALL: 'C.UTF-8' } }))).stdout;
    for (const section of ['NAME', 'SYNOPSIS', 'COMMANDS', 'EXIT STATUS']) expect(page).toMatch(new RegExp(`^${section}$`, 'm'));
    // The installed unit, with the paths it names now present (its ExecStart, its man page).
    await ok(sh('systemd-analyze', ['verify', '/usr/lib/systemd/system/nft-mwan.service']));

    // The example as installed, with a state directory of the test's own.
    const example = JSON.parse(await readFile('/usr/share/doc/nft-mwan/examples/config.json', 'utf8')) as Record<string, unknown>;
    expect(example.$schema).toBe('/usr/share/nft-mwan/config.schema.json');
    expect(existsSync(example.$schema as string)).toBe(true);
    const config = join(work, 'config.json');
    await writeFile(config, JSON.stringify(example));
    const state = ['--state-dir', join(work, 'state')];

    r = await inNs('/usr/sbin/nft-mwan', ['check', '--config', config]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain(`${config}: OK: 2 interfaces, 2 policies, 2 rules`);
    const tables = async () => (await ok(inNs('nft', ['list', 'tables']))).stdout.trim();
    expect(await tables()).toBe('');

    undo.push(() => inNs('/usr/sbin/nft-mwan', ['stop', '--config', config, ...state]));
    r = await inNs('/usr/sbin/nft-mwan', ['apply', '-v', '--config', config, ...state]);
    expect(r.exitCode, r.all).toBe(0);
    // The packaged koffi is found: nft runs in process (auto, the default).
    expect(r.stderr).toContain('nft: in process through libnftables.so.1 (NFT_MWAN_NFT=auto)');
    expect(await tables()).toMatch(/^table inet \S+$/);
    expect((await ok(inNs('ip', ['rule', 'show']))).stdout).toMatch(/fwmark 0x\w+\/0x3f00/);

    r = await inNs('/usr/sbin/nft-mwan', ['stop', '--config', config, ...state]);
    expect(r.exitCode, r.all).toBe(0);
    expect(await tables()).toBe('');
    // The installed bundle's code cache (bin/nft-mwan names each file after the bundle's size, time and inode).
    const b = statSync('/usr/lib/nft-mwan/dist/nft-mwan.cjs');
    const key = `-${b.size}-${Math.trunc(b.mtimeMs)}-${b.ino}.`;
    const cached = () => (existsSync(CODE_CACHE) ? readdirSync(CODE_CACHE).filter((f) => f.includes(key)) : []);
    expect(cached()).toEqual(expect.arrayContaining([expect.stringMatching(/\.apply\.bin$/), expect.stringMatching(/\.stop\.bin$/)]));
    expect((await ok(inNs('ip', ['rule', 'show']))).stdout).not.toMatch(/fwmark/);

    await ok(inNs('dpkg', ['--purge', 'nft-mwan']));
    expect((await sh('dpkg-query', ['-W', 'nft-mwan'])).exitCode).not.toBe(0);
    expect(cached()).toEqual([]);
    for (const p of [
      '/usr/sbin/nft-mwan',
      '/usr/lib/nft-mwan',
      '/usr/lib/systemd/system/nft-mwan.service',
      '/etc/NetworkManager/dispatcher.d/90-nft-mwan',
      '/etc/network/if-up.d/nft-mwan',
      '/etc/nft-mwan/hooks.d',
    ]) {
      expect(existsSync(p), p).toBe(false);
    }
  });
});
