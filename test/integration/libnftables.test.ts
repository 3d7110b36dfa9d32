// libnftables in process: apply, list and check through the library inside a namespace, its error buffer as the
// error's text, the fallback to the nft command when the library cannot load, and the nft command when forced.
// The library acts on the namespace of the process that calls it: it is only ever called from processes started
// inside the test's namespace (bin/nft-mwan, a probe script), never from this test process. Both run on the `node`
// PATH finds: in CI's nft-next pass, a wrapper on the newer libc that the newer library needs (scripts/nft-next.sh).
import { afterAll, beforeAll, expect, it, onTestFailed } from 'vitest';
import { Lab } from '../../lab/netns.js';
import { describeLab } from '../../lab/vitest.js';
import { BIN, configFile } from './helpers.js';

const PROBE = new URL('./fixtures/libnftables-probe.mjs', import.meta.url).pathname;
const MISSING = '/nonexistent/libnftables.so.1';
/** The library nft-mwan loads: the system's, or the newer one of CI's nft-next pass. */
const LIBRARY = process.env.NFT_MWAN_LIBNFTABLES ?? 'libnftables.so.1';

const config = {
  interfaces: { wan1: { device: 'wan1', gateway: '10.1.0.1' }, wan2: { device: 'wan2', gateway: '10.2.0.1' } },
  policies: { balanced: { members: [{ interface: 'wan1', weight: 2 }, { interface: 'wan2' }] } },
  rules: [
    { name: 'docs', destIp: ['203.0.113.0/24'], policy: 'balanced' },
    { name: 'default', policy: 'balanced' },
  ],
};

describeLab('libnftables in process', () => {
  const lab = new Lab();
  let file: string;

  /** nft-mwan ARGS -v in the namespace, with environment settings (over this process's own). */
  const mwan = (env: Record<string, string>, ...args: string[]) =>
    lab.exec('gw', 'env', [...Object.entries(env).map(([k, v]) => `${k}=${v}`), BIN, ...args, '-v'], { reject: false, timeoutMs: 60_000 });
  const tables = async () => (await lab.exec('gw', 'nft', ['list', 'tables'])).stdout;

  beforeAll(async () => {
    await lab.addNamespace('gw');
    for (const k of [1, 2]) {
      await lab.ip('gw', ['link', 'add', `wan${k}`, 'type', 'veth', 'peer', 'name', `wan${k}p`]);
      await lab.ip('gw', ['addr', 'add', `10.${k}.0.2/24`, 'dev', `wan${k}`]);
      await lab.ip('gw', ['link', 'set', `wan${k}`, 'up']);
      await lab.ip('gw', ['link', 'set', `wan${k}p`, 'up']);
    }
    file = configFile(config);
  });
  afterAll(async () => {
    await lab.teardown();
  });
  const dumpOnFailure = () =>
    onTestFailed(async () => {
      console.error(await lab.dump());
    });

  it('check, apply and status run every nft command in process (NFT_MWAN_NFT=lib); check changes nothing', async () => {
    dumpOnFailure();
    const check = await mwan({ NFT_MWAN_NFT: 'lib' }, 'check', '--config', file);
    expect(check.exitCode, check.stderr).toBe(0);
    expect(check.stderr).toContain(`nft: in process through ${LIBRARY} (NFT_MWAN_NFT=lib)`);
    expect(check.stderr).toMatch(/run: nft -j -c -f - \(libnftables\)/);
    expect(await tables()).not.toContain('nft_mwan');

    const apply = await mwan({ NFT_MWAN_NFT: 'lib' }, 'apply', '--config', file);
    expect(apply.exitCode, apply.stderr).toBe(0);
    expect(apply.stderr).toMatch(/run: nft -j -f - \(libnftables\)/);
    expect(apply.stderr).toMatch(/run: nft -j list table inet nft_mwan \(libnftables\)/);
    // Every nft of the run went through the library: none as a command.
    expect(apply.stderr).not.toMatch(/run: nft (?!.*\(libnftables\)$).*$/m);
    expect(await tables()).toContain('table inet nft_mwan');
    const listed = await lab.exec('gw', 'nft', ['-j', 'list', 'set', 'inet', 'nft_mwan', 'managed_by_nft_mwan'], { reject: false });
    expect(listed.exitCode, listed.stderr).toBe(0);

    const status = await mwan({ NFT_MWAN_NFT: 'lib' }, 'status', '--config', file, '--json');
    expect(status.exitCode, status.stderr).toBe(0);
    const s = JSON.parse(status.stdout) as { interfaces: { name: string }[] };
    expect(s.interfaces.map((i) => i.name).sort()).toEqual(['wan1', 'wan2']);
    expect(status.stderr).toMatch(/\(libnftables\)/);
  });

  it("a rejected batch fails as COMMAND_FAILED with the library's error buffer as its stderr, and applies nothing", async () => {
    dumpOnFailure();
    const r = await lab.exec('gw', 'node', [PROBE, 'bad-batch']);
    const { error } = JSON.parse(r.stdout) as { error: { code: string; command: string; exitCode: number; stderr: string } | null };
    expect(error).toMatchObject({ code: 'COMMAND_FAILED', command: 'nft -j -f -', exitCode: 1 });
    expect(error?.stderr).toMatch(/Error: .*No such file or directory/);
    expect(await tables()).not.toContain('probe');
  });

  it('unparseable JSON fails in the library (a syntax error), never a silent success', async () => {
    dumpOnFailure();
    const r = await lab.exec('gw', 'node', [PROBE, 'invalid-json']);
    const out = JSON.parse(r.stdout) as Record<'truncated' | 'notJson', { exitCode: number; stderr: string }> & { version: string };
    // The library loaded is the nftables under test: the same version as the nft command the namespace runs (CI's
    // nft-next pass: the newer one of both), and the version the run promises when it names one.
    const nftVersion = /^nftables v(\d+(?:\.\d+)+)/.exec((await lab.exec('gw', 'nft', ['--version'])).stdout)?.[1];
    expect(nftVersion).toBeDefined();
    expect(out.version).toBe(nftVersion);
    const expected = process.env.NFT_MWAN_EXPECT_NFT;
    if (expected) expect(out.version).toMatch(new RegExp(`^${expected.replaceAll('.', '\\.')}(\\.|$)`));
    for (const k of ['truncated', 'notJson'] as const) {
      expect(out[k].exitCode, k).toBe(1);
      expect(out[k].stderr, k).toMatch(/Error: syntax error/);
    }
    expect(await tables()).not.toContain('truncated');
  });

  it('auto falls back to the nft command when NFT_MWAN_LIBNFTABLES names a missing file, saying why at debug level', async () => {
    dumpOnFailure();
    const r = await mwan(
      { NFT_MWAN_NFT: 'auto', NFT_MWAN_LIBNFTABLES: MISSING },
      'apply',
      '--config',
      configFile({ ...config, rules: [{ name: 'default', policy: 'balanced' }] }),
    );
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`debug: nft: libnftables cannot be loaded from ${MISSING} \\(.+\\): running the nft command`));
    expect(r.stderr).toMatch(/run: nft -j -f \S+batch\.json$/m);
    expect(r.stderr).not.toContain('(libnftables)');
    expect(await tables()).toContain('table inet nft_mwan');
  });

  it('lib forced with a library that cannot load is a clear error (COMMAND_MISSING, exit 1) and changes nothing', async () => {
    dumpOnFailure();
    const before = (await lab.exec('gw', 'nft', ['list', 'ruleset'])).stdout;
    const r = await mwan({ NFT_MWAN_NFT: 'lib', NFT_MWAN_LIBNFTABLES: MISSING }, 'apply', '--config', file);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`libnftables cannot be loaded from ${MISSING} (NFT_MWAN_NFT=lib)`);
    expect((await lab.exec('gw', 'nft', ['list', 'ruleset'])).stdout).toBe(before);
  });

  it('cli forced runs nft as a command only (apply, then stop)', async () => {
    dumpOnFailure();
    const apply = await mwan({ NFT_MWAN_NFT: 'cli' }, 'apply', '--config', file);
    expect(apply.exitCode, apply.stderr).toBe(0);
    expect(apply.stderr).toMatch(/run: nft -j list table inet nft_mwan$/m);
    expect(apply.stderr).not.toContain('libnftables');
    const stop = await mwan({ NFT_MWAN_NFT: 'cli' }, 'stop', '--config', file);
    expect(stop.exitCode, stop.stderr).toBe(0);
    expect(stop.stderr).not.toContain('libnftables');
    expect(await tables()).not.toContain('nft_mwan');
  });
});
