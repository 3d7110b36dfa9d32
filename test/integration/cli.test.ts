// The command line in the lab's gateway, as an operator meets it (issue 19): the config applied is the one status,
// explain and stop use; explain's assumptions said; status consistent without a table; clear errors; marks in hex.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Lab } from '../../lab/netns.js';
import { buildMultiWan, LAB_NET } from '../../lab/topology.js';
import { describeLab } from '../../lab/vitest.js';
import { cli, cliOk, configFile } from './helpers.js';
import { startDaemon } from './daemon-helpers.js';

const [SRV1] = LAB_NET.server.addrs as [string, string];
const { lan: LAN } = LAB_NET;

const config = {
  interfaces: { wan1: { device: 'wan1', gateway: 'auto' }, wan2: { device: 'wan2', gateway: 'auto' } },
  policies: {
    balanced: {
      members: [
        { interface: 'wan1', weight: 3 },
        { interface: 'wan2', weight: 1 },
      ],
    },
  },
  rules: [{ name: 'default', policy: 'balanced', sticky: true }],
};

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Every `match` and `mangle` of the nft batch whose left side or key is a packet or conntrack mark. */
function markStatements(node: Json, found: Json[] = []): Json[] {
  if (Array.isArray(node)) node.forEach((n) => markStatements(n, found));
  else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if ((key === 'match' || key === 'mangle') && JSON.stringify(value).match(/"key":"mark"/)) found.push(value);
      markStatements(value, found);
    }
  }
  return found;
}

/** The numbers in a JSON value. */
const numbers = (node: Json): number[] =>
  typeof node === 'number' ? [node] : node !== null && typeof node === 'object' ? Object.values(node).flatMap(numbers) : [];

describeLab('the command line in the gateway', () => {
  const lab = new Lab();
  const file = configFile(config);
  const tmp = mkdtempSync(join(tmpdir(), 'nft-mwan-cli-'));
  let n = 0;
  /** A fresh state directory per test: nothing recorded, no daemon. */
  const freshStateDir = () => join(tmp, `state-${++n}`);

  beforeAll(async () => {
    await buildMultiWan(lab, { wans: 2 });
  });

  afterEach(async () => {
    await cli(lab, 'gw', 'stop', '--config', file, '--state-dir', join(tmp, 'unused'));
  });

  afterAll(async () => {
    await lab.teardown();
  });

  it('after apply --config FILE, status, explain and stop without --config use FILE and say so', async () => {
    const dir = freshStateDir();
    await cliOk(lab, 'gw', 'apply', '--config', file, '--state-dir', dir);

    const status = await cli(lab, 'gw', 'status', '--state-dir', dir);
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toContain(`table inet nft_mwan: installed, in sync with ${file}`);
    expect(status.stderr).toContain(`using ${file}: the config applied last`);

    const explain = await cli(lab, 'gw', 'explain', '--state-dir', dir, '--src', LAN.addr, '--dst', SRV1);
    expect(explain.exitCode).toBe(0);
    expect(explain.stdout).toMatch(/rule "?default"?/);
    expect(explain.stderr).toContain(`using ${file}`);

    const stop = await cli(lab, 'gw', 'stop', '--state-dir', dir);
    expect(stop.exitCode).toBe(0);
    expect(stop.stderr).toContain(`using ${file}`);
    expect(stop.stderr).toMatch(/stopped: table inet nft_mwan deleted/);
  });

  it('an apply --try that rolls back leaves the config applied before as the one status uses', async () => {
    const dir = freshStateDir();
    const tried = configFile({ ...config, rules: [{ name: 'all_wan1', policy: 'wan1_only' }], policies: { wan1_only: { members: [{ interface: 'wan1' }] } } });
    await cliOk(lab, 'gw', 'apply', '--config', file, '--state-dir', dir);
    const attempt = await cli(lab, 'gw', 'apply', '--config', tried, '--try', '1', '--state-dir', dir);
    expect(attempt.exitCode).toBe(1);
    expect(attempt.stderr).toMatch(/not confirmed within 1 s/);
    const status = await cli(lab, 'gw', 'status', '--state-dir', dir);
    expect(status.stderr).toContain(`using ${file}: the config applied last`);
    expect(status.stdout).toContain(`in sync with ${file}`);
  });

  it("with the daemon running, status without --config uses the daemon's config and says so", async () => {
    const d = await startDaemon(lab, config, ['--stop-on-exit']);
    try {
      const status = await cli(lab, 'gw', 'status', '--state-dir', d.stateDir);
      expect(status.exitCode).toBe(0);
      expect(status.stderr).toMatch(new RegExp(`using ${d.configPath}: the config of the running daemon \\(pid \\d+\\)`));
      expect(status.stdout).toContain(`daemon: running`);
    } finally {
      await d.stop();
    }
  });

  it('explain says tcp is assumed without --proto, and not with it', async () => {
    const dir = freshStateDir();
    const assumed = await cliOk(lab, 'gw', 'explain', '--config', file, '--state-dir', dir, '--src', LAN.addr, '--dst', SRV1);
    expect(assumed).toMatch(/^tcp 192\.168\.10\.2 -> /);
    expect(assumed).toContain('no --proto given: tcp assumed');
    const given = await cliOk(lab, 'gw', 'explain', '--config', file, '--state-dir', dir, '--src', LAN.addr, '--dst', SRV1, '--proto', 'udp');
    expect(given).toMatch(/^udp /);
    expect(given).not.toContain('assumed');
  });

  it('explain prints no sticky line for traffic that is never balanced (to the router itself)', async () => {
    const dir = freshStateDir();
    await cliOk(lab, 'gw', 'apply', '--config', file, '--state-dir', dir);
    const toRouter = await cliOk(lab, 'gw', 'explain', '--config', file, '--state-dir', dir, '--src', LAN.addr, '--dst', LAN.gwAddr);
    expect(toRouter).toMatch(/never balanced/);
    expect(toRouter).not.toMatch(/sticky/);
    // The same rule for balanced traffic does print it: the line is left out for bypass only.
    const balanced = await cliOk(lab, 'gw', 'explain', '--config', file, '--state-dir', dir, '--src', LAN.addr, '--dst', SRV1);
    expect(balanced).toMatch(/sticky/);
  });

  it('with no table and an old daemon state file, status says nothing of it is installed, and nothing else', async () => {
    const dir = freshStateDir();
    mkdirSync(dir, { recursive: true });
    const at = new Date(Date.now() - 3_600_000).toISOString();
    writeFileSync(join(dir, 'state.json'), JSON.stringify({ version: 1, running: false, pid: 999_999, startedAt: at, updatedAt: at, interfaces: {} }));
    const r = await cli(lab, 'gw', 'status', '--config', file, '--state-dir', dir);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('table inet nft_mwan: not installed');
    expect(r.stdout).toContain(`daemon: not running (last state ${at}, in ${dir}); nothing of it is installed now`);
    expect(r.stdout).not.toContain('stay as it left them');
  });

  it('the daemon with a state directory it cannot create says so, without calling it a bug', async () => {
    // Under a regular file: no directory can be made there, root or not.
    const blocker = join(tmp, 'a-file');
    writeFileSync(blocker, '');
    const r = await cli(lab, 'gw', 'daemon', '--config', file, '--state-dir', join(blocker, 'state'));
    expect(r.exitCode).toBe(1);
    expect(r.stderr).not.toMatch(/internal error|a bug|\n\s+at /);
    expect(r.stderr).toBe(`nft-mwan: error: mkdir ${join(blocker, 'state')}: a part of the path is not a directory\n`);
  });

  it('the daemon stamps its log lines with the time when journald does not (JOURNAL_STREAM unset)', async () => {
    // The daemon inherits the runner's environment: no JOURNAL_STREAM, whatever started the tests.
    delete process.env.JOURNAL_STREAM;
    const plain = await startDaemon(lab, config, ['--stop-on-exit']);
    const lines = plain.log();
    await plain.stop();
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d nft-mwan: (debug|info|warn|error): /);
  });

  it('apply --print shows every mark and mask in hex, in the nft batch and the routing plan', async () => {
    const out = JSON.parse(await cliOk(lab, 'gw', 'apply', '--print', '--config', file, '--state-dir', freshStateDir())) as { nftables: Json; routing: Json };
    const marks = markStatements(out.nftables);
    expect(marks.length).toBeGreaterThan(0);
    expect(marks.flatMap(numbers)).toEqual([]);
    expect(JSON.stringify(marks)).toMatch(/"0x[0-9a-f]+"/);
    const fwmarks = JSON.stringify(out.routing).match(/"(fwmark|mask)":[^,}]+/g) ?? [];
    expect(fwmarks.length).toBeGreaterThan(0);
    for (const f of fwmarks) expect(f).toMatch(/:"0x[0-9a-f]+"$/);
  });
});
