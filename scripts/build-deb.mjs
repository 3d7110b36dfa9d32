// `npm run deb`: builds dist/nft-mwan_VERSION_ARCH.deb with dpkg-deb from the bundled CLI, koffi (the FFI that runs
// libnftables in process) with its native build for this machine's architecture only, the unit, the man page, the
// schema, the hooks and the docs (packaging/ holds the control template and the maintainer scripts).
//
// /etc/nft-mwan: the package ships no config there. No config works unmodified (device names and gateways are
// the site's), and a shipped conffile would be the daemon's config as soon as it is installed; the admin copies
// /usr/share/doc/nft-mwan/examples/config.json instead, so dpkg never owns, prompts about or replaces it.
// The package owns only the directories /etc/nft-mwan and /etc/nft-mwan/hooks.d, and the network managers'
// hooks under /etc, which are conffiles (an admin's edit survives upgrades).
// `--no-build` packages dist/ as it is (the CLI and the man page must be built).
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

const root = new URL('../', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const version = pkg.version;
// koffi's native build makes the package architecture-specific: the one built here is dpkg's architecture's.
const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
const KOFFI_PLATFORMS = { amd64: { pkg: 'linux-x64', dir: 'linux_x64' }, arm64: { pkg: 'linux-arm64', dir: 'linux_arm64' } };
const koffiPlatform = KOFFI_PLATFORMS[arch];
if (!koffiPlatform) throw new Error(`deb: no koffi build is packaged for ${arch} (only ${Object.keys(KOFFI_PLATFORMS).join(', ')})`);
const name = `nft-mwan_${version}_${arch}`;
const stage = join(root, 'dist/deb', name);
const output = join(root, 'dist', `${name}.deb`);

const sh = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
if (!process.argv.includes('--no-build')) {
  sh('npm', ['run', '--silent', 'build']);
  sh('node', ['scripts/man.mjs']);
}
for (const f of ['dist/nft-mwan.cjs', 'dist/THIRD-PARTY-LICENSES', 'dist/nft-mwan.8']) {
  if (!existsSync(join(root, f))) throw new Error(`deb: ${f} is missing: run npm run build and npm run man first`);
}

rmSync(stage, { recursive: true, force: true });
/** Writes one file of the package with its mode; directories are made 0755. */
function put(path, content, mode = 0o644) {
  const target = join(stage, path);
  mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
  writeFileSync(target, content);
  chmodSync(target, mode);
}
const src = (path) => readFileSync(join(root, path));
// gzip -9n: no name, no time stamp in the header (zlib writes neither), the same bytes for the same input.
const gz = (data) => gzipSync(data, { level: 9 });

// The CLI: the bundle beside a package.json (`nft-mwan --version` reads it), run by node through /usr/sbin.
put('usr/lib/nft-mwan/dist/nft-mwan.cjs', src('dist/nft-mwan.cjs'));
put('usr/lib/nft-mwan/dist/THIRD-PARTY-LICENSES', src('dist/THIRD-PARTY-LICENSES'));
put('usr/lib/nft-mwan/package.json', `${JSON.stringify({ name: pkg.name, version, type: 'module', private: true }, null, 2)}\n`);
// bin/nft-mwan (the bundle, compiled with its code cache in /var/cache/nft-mwan) and the package.json that makes it
// CommonJS, run by node through /usr/sbin. exec: the
// daemon's pid is node's own, the MAINPID systemd watches.
put('usr/lib/nft-mwan/bin/nft-mwan', src('bin/nft-mwan'), 0o755);
put('usr/lib/nft-mwan/bin/package.json', src('bin/package.json'));
put('usr/sbin/nft-mwan', '#!/bin/sh\nexec /usr/bin/node /usr/lib/nft-mwan/bin/nft-mwan "$@"\n', 0o755);
put('usr/lib/nft-mwan/nft-mwan-dispatch', src('contrib/dispatch/nft-mwan-dispatch'), 0o755);

// koffi beside the bundle (it requires it on first use; without it nft runs as a command): the files require() loads,
// and of its native builds only this architecture's glibc one (not the musl one, sources or build tooling).
const koffi = JSON.parse(src('node_modules/koffi/package.json').toString());
const koffiNative = `node_modules/@koromix/koffi-${koffiPlatform.pkg}`;
if (!existsSync(join(root, koffiNative, koffiPlatform.dir, 'koffi.node'))) {
  throw new Error(`deb: ${koffiNative}/${koffiPlatform.dir}/koffi.node is missing: run npm ci on a ${arch} machine`);
}
for (const f of ['package.json', 'index.cjs', 'src/koffi/index.cjs', 'src/koffi/src/static.cjs']) {
  put(`usr/lib/nft-mwan/node_modules/koffi/${f}`, src(`node_modules/koffi/${f}`));
}
for (const f of ['package.json', 'index.js', `${koffiPlatform.dir}/koffi.node`]) {
  put(`usr/lib/nft-mwan/${koffiNative}/${f}`, src(`${koffiNative}/${f}`));
}

put('usr/lib/systemd/system/nft-mwan.service', src('contrib/nft-mwan.service'));
put('usr/share/man/man8/nft-mwan.8.gz', gz(src('dist/nft-mwan.8')));
const SCHEMA = '/usr/share/nft-mwan/config.schema.json';
put(SCHEMA.slice(1), src('schema/config.schema.json'));

// The network managers' hooks (conffiles).
const conffiles = [];
const hook = (path, from) => {
  put(path, src(from), 0o755);
  conffiles.push(`/${path}`);
};
for (const state of ['routable', 'off', 'no-carrier', 'dormant'])
  hook(`etc/networkd-dispatcher/${state}.d/50-nft-mwan`, 'contrib/networkd-dispatcher/nft-mwan');
hook('etc/NetworkManager/dispatcher.d/90-nft-mwan', 'contrib/NetworkManager/90-nft-mwan');
hook('etc/network/if-up.d/nft-mwan', 'contrib/ifupdown/nft-mwan');
hook('etc/network/if-post-down.d/nft-mwan', 'contrib/ifupdown/nft-mwan');
for (const d of ['etc/nft-mwan/hooks.d']) mkdirSync(join(stage, d), { recursive: true, mode: 0o755 });

// Docs: the example names the installed schema, so it validates in an editor once copied to /etc/nft-mwan.
const doc = 'usr/share/doc/nft-mwan';
const example = JSON.parse(src('examples/config.json').toString());
put(`${doc}/examples/config.json`, `${JSON.stringify({ ...example, $schema: SCHEMA }, null, 2)}\n`);
put(`${doc}/README.md.gz`, gz(src('README.md')));
for (const f of readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md') && f !== 'nft-mwan.md')) put(`${doc}/${f}.gz`, gz(src(`docs/${f}`)));
put(`${doc}/changelog.gz`, gz(debianChangelog()));
put(`${doc}/CHANGELOG.md.gz`, gz(src('CHANGELOG.md')));
put(`${doc}/copyright`, copyright());

// Control area.
put('DEBIAN/conffiles', `${conffiles.join('\n')}\n`);
for (const s of ['postinst', 'prerm', 'postrm']) put(`DEBIAN/${s}`, src(`packaging/${s}`), 0o755);
const files = walk(stage).filter((f) => !f.startsWith('DEBIAN/'));
put(
  'DEBIAN/md5sums',
  files
    .map(
      (f) =>
        `${createHash('md5')
          .update(readFileSync(join(stage, f)))
          .digest('hex')}  ${f}\n`,
    )
    .join(''),
);
const installedKiB = files.reduce((sum, f) => sum + Math.ceil(statSync(join(stage, f)).size / 1024), 0) + walkDirs(stage).length;
put(
  'DEBIAN/control',
  src('packaging/control.in').toString().replace('@VERSION@', version).replace('@ARCH@', arch).replace('@INSTALLED_SIZE@', String(installedKiB)),
);
for (const d of walkDirs(stage)) chmodSync(join(stage, d), 0o755);

sh('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', stage, output]);
console.log(`deb: ${relative(root, output)} (${statSync(output).size} bytes)`);

function walk(dir, base = '') {
  return readdirSync(join(dir, base), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walk(dir, join(base, e.name)) : [join(base, e.name)]))
    .sort();
}
function walkDirs(dir, base = '') {
  return readdirSync(join(dir, base), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .flatMap((e) => [join(base, e.name), ...walkDirs(dir, join(base, e.name))]);
}

/**
 * The package is native (its version is package.json's), so changelog.gz is in Debian's format: one entry per
 * released version of CHANGELOG.md (shipped beside it as CHANGELOG.md.gz), dated by its release date.
 */
function debianChangelog() {
  const maintainer = /^Maintainer: (.*)$/m.exec(src('packaging/control.in').toString())[1];
  const text = src('CHANGELOG.md').toString();
  const releases = [...text.matchAll(/^## \[(\d[^\]]*)\] - (\d{4}-\d{2}-\d{2})$/gm)].map((m) => ({ v: m[1], date: m[2], at: m.index }));
  if (!releases.some((r) => r.v === version)) releases.unshift({ v: version, date: new Date().toISOString().slice(0, 10), at: -1 });
  return releases
    .map((r) => {
      const items = [`  * Release ${r.v}${r.at < 0 ? ' (not yet in CHANGELOG.md)' : ''}: the changes are in CHANGELOG.md.gz beside this file.`];
      const when = new Date(`${r.date}T12:00:00Z`).toUTCString().replace(/^(\w+), (\d+) (\w+) (\d+) ([\d:]+) GMT$/, '$1, $2 $3 $4 $5 +0000');
      return `nft-mwan (${r.v}) unstable; urgency=medium\n\n${items.join('\n')}\n\n -- ${maintainer}  ${when}\n`;
    })
    .join('\n');
}

/** DEP-5 copyright: nft-mwan's GPL-2, and each licence of the packages bundled into the CLI (scripts/bundle.mjs). */
function copyright() {
  const sections = src('dist/THIRD-PARTY-LICENSES')
    .toString()
    .split(`\n${'-'.repeat(72)}\n`);
  const bundled = [];
  for (const s of sections) {
    const m = /^(?:.*\n\n)?(\S+) (\S+) \(([^)]+)\)\n\n([\s\S]*)$/.exec(s.trim());
    if (m) bundled.push({ name: m[1], version: m[2], license: m[3], text: m[4].trim() });
  }
  if (bundled.length === 0) throw new Error('deb: no bundled package found in dist/THIRD-PARTY-LICENSES');
  // koffi ships beside the bundle, under its own licence.
  const koffiText = src('node_modules/koffi/LICENSE.txt').toString().trim();
  const koffiHolders = koffiText
    .split('\n')
    .filter((l) => /^\s*copyright\b/i.test(l))
    .map((l) => l.trim().replace(/^copyright\s*(\(c\))?\s*/i, ''));
  const licenses = [...new Set(bundled.map((b) => b.license))].sort();
  const allLicenses = [...new Set([...licenses, koffi.license])].sort();
  const holders = [
    ...new Set(
      bundled.flatMap((b) =>
        b.text
          .split('\n')
          .filter((l) => /^\s*copyright\b/i.test(l) && !/notice|license|holders/i.test(l))
          .map((l) => l.trim()),
      ),
    ),
  ];
  const field = (lines) => lines.map((l) => (l.trim() === '' ? ' .' : ` ${l}`)).join('\n');
  const texts = allLicenses.map((l) => {
    if (existsSync(`/usr/share/common-licenses/${l}`) || l === 'Apache-2.0') {
      return `\nLicense: ${l}\n On Debian systems, the complete text of this licence can be found in\n "/usr/share/common-licenses/${l}".`;
    }
    const body = (bundled.find((b) => b.license === l)?.text ?? koffiText).split('\n').filter((line) => !/^\s*copyright\b/i.test(line));
    return `\nLicense: ${l}\n${field(body.join('\n').trim().split('\n'))}`;
  });
  return src('packaging/copyright.in')
    .toString()
    .replace('@BUNDLED_COPYRIGHTS@', field(holders))
    .replace('@BUNDLED_LICENSES@', licenses.join(' and '))
    .replace('@BUNDLED_LIST@', field(bundled.map((b) => `${b.name} ${b.version} (${b.license})`)))
    .replace(
      '@NODE_MODULES@',
      `Files: usr/lib/nft-mwan/node_modules/*\nCopyright: ${koffiHolders.join('\n ')}\nLicense: ${koffi.license}\n` +
        `Comment: koffi ${koffi.version}, the FFI that runs libnftables in process, with its native build for ${arch}.\n`,
    )
    .replace('@LICENSE_TEXTS@', texts.join('\n'));
}
