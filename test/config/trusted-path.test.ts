// Files root reads (configs, hooks): the file and every directory up to / must be root's alone (as sshd's
// StrictModes), a sticky root directory such as /tmp excepted; a FIFO is refused without being opened.
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ancestors, directoryReason, untrustedReason } from '../../src/config/trusted-path.js';

const CONFIG = JSON.stringify({ interfaces: { wan1: { device: 'eth1' } }, policies: { p: { members: [{ interface: 'wan1' }] } } });
const asRoot = process.getuid?.() === 0;
// CI runs as root: there these never skip.
if (process.env.CI === 'true' && !asRoot) throw new Error('the trusted-path tests on real files need root (CI runs as root)');

describe('directoryReason', () => {
  it.each<[string, { uid: number; mode: number }, RegExp | null]>([
    ['root 0755', { uid: 0, mode: 0o040755 }, null],
    ['root 1777 (sticky, as /tmp)', { uid: 0, mode: 0o041777 }, null],
    ['root 0777, not sticky', { uid: 0, mode: 0o040777 }, /writable by anyone \(mode 777\) and not sticky/],
    ['root 0775, not sticky', { uid: 0, mode: 0o040775 }, /writable by its group/],
    ['owned by uid 1000', { uid: 1000, mode: 0o040755 }, /owned by uid 1000, not root/],
    ['a file where a directory should be', { uid: 0, mode: 0o100644 }, /not a directory/],
  ])('%s', (_what, st, want) => {
    const got = directoryReason('/d', st);
    if (want === null) expect(got).toBeNull();
    else expect(got).toMatch(want);
  });

  it('ancestors go from the file to /', () => {
    expect(ancestors('/etc/nft-mwan/config.json')).toEqual(['/etc/nft-mwan', '/etc', '/']);
  });
});

describe.skipIf(!asRoot)('untrustedReason and loadConfig on real files (as root)', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'nft-mwan-trust-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function configIn(dirMode: number, owner = 0): Promise<string> {
    const dir = await mkdtemp(join(root, 'd-'));
    const file = join(dir, 'config.json');
    await writeFile(file, CONFIG, { mode: 0o600 });
    await chmod(dir, dirMode);
    await chown(dir, owner, 0);
    return file;
  }

  it('a root 0600 config in a root 0755 directory is accepted', async () => {
    const file = await configIn(0o755);
    expect(await untrustedReason(file, 0)).toBeNull();
    expect((await loadConfig(file)).ok).toBe(true);
  });

  it('a root 0600 config in a world-writable, non-sticky directory is refused (CONFIG_INSECURE)', async () => {
    const file = await configIn(0o777);
    const r = await loadConfig(file);
    expect(r.ok ? null : [r.code, r.summary]).toEqual(['CONFIG_INSECURE', expect.stringMatching(/writable by anyone .* not sticky/)]);
  });

  it('a config in a directory another user owns is refused', async () => {
    const file = await configIn(0o755, 1000);
    expect(await untrustedReason(file, 0)).toMatch(/owned by uid 1000/);
  });

  it('a symlink is followed: the real file and its directories are what count', async () => {
    const unsafe = await configIn(0o777);
    const safeDir = await mkdtemp(join(root, 's-'));
    const link = join(safeDir, 'config.json');
    await symlink(unsafe, link);
    expect(await untrustedReason(link, 0)).toMatch(/not sticky/);
  });

  it('a FIFO is refused at once (CONFIG_READ), never opened', async () => {
    const dir = await mkdtemp(join(root, 'f-'));
    await mkdir(join(dir, 'sub'));
    const fifo = join(dir, 'sub', 'config.json');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    const r = await loadConfig(fifo);
    expect(r.ok ? null : [r.code, r.summary]).toEqual(['CONFIG_READ', 'refusing the config file: it is not a regular file']);
  });
});
