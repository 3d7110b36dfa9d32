// Every real mwan3 config of the corpus (test/uci/fixtures/real) imports and passes `nft-mwan check` on a router
// that has the devices it was mapped to: one gateway namespace, reused for every fixture, whose eth1..eth5 are veth
// ends (their peers in a second namespace of the test) with an IPv4 and IPv6 address and a default route each.
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Lab } from '../../lab/netns.js';
import { describeLab } from '../../lab/vitest.js';
import { CORPUS_DEVICES, deviceArgs } from '../uci/real-corpus-devices.js';
import { cli } from './helpers.js';
import { startDaemon } from './daemon-helpers.js';

const root = new URL('../uci/fixtures/real/', import.meta.url).pathname;
const fixtures = readdirSync(root, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();
/** Every device a fixture is mapped to. */
const DEVICES = [...new Set(Object.values(CORPUS_DEVICES).flatMap((m) => (m === '' ? [] : m.split(' ').map((d) => d.split('=')[1] as string))))].sort();

describeLab('the real mwan3 corpus passes check where its devices exist', () => {
  const lab = new Lab();
  const tmp = mkdtempSync(join(tmpdir(), 'nft-mwan-corpus-'));

  beforeAll(async () => {
    await lab.addNamespace('gw');
    await lab.addNamespace('isp');
    await lab.sysctl('gw', { 'net.ipv6.conf.all.accept_dad': 0, 'net.ipv6.conf.default.accept_dad': 0 });
    for (const [n, dev] of DEVICES.entries()) {
      const k = n + 1;
      const peer = `isp${String(k)}`;
      await lab.addVeth({ ns: 'gw', dev }, { ns: 'isp', dev: peer });
      await lab.ip('isp', ['addr', 'add', `10.200.${String(k)}.1/24`, 'dev', peer]);
      await lab.ip('isp', ['-6', 'addr', 'add', `2001:db8:${String(k)}::1/64`, 'dev', peer, 'nodad']);
      await lab.ip('isp', ['link', 'set', peer, 'up']);
      await lab.ip('gw', ['addr', 'add', `10.200.${String(k)}.2/24`, 'dev', dev]);
      await lab.ip('gw', ['-6', 'addr', 'add', `2001:db8:${String(k)}::2/64`, 'dev', dev, 'nodad']);
      await lab.ip('gw', ['link', 'set', dev, 'up']);
      // One default route per WAN (metrics apart), as netifd installs them: gateway "auto" finds its next hop.
      await lab.ip('gw', ['route', 'add', 'default', 'via', `10.200.${String(k)}.1`, 'dev', dev, 'metric', String(k)]);
      await lab.ip('gw', ['-6', 'route', 'add', 'default', 'via', `2001:db8:${String(k)}::1`, 'dev', dev, 'metric', String(k)]);
    }
    // Carrier comes with both ends up: wait for it on every device before the first check reads the links.
    await lab.waitFor(async () => !(await lab.ip('gw', ['-br', 'link'])).stdout.includes('LOWERLAYERDOWN'), {
      timeoutMs: 10_000,
      what: 'carrier on every veth',
    });
  });
  afterAll(async () => {
    await lab.teardown();
  });

  it('maps the devices of every fixture, and they fit the namespace', () => {
    expect(Object.keys(CORPUS_DEVICES).sort()).toEqual(fixtures);
    expect(DEVICES.every((d) => d.length <= 15)).toBe(true);
  });

  it.each(fixtures)('%s: imports with exit 0 and passes check, every WAN found up', async (name) => {
    const imported = await cli(lab, 'gw', 'import-uci', join(root, name, 'mwan3'), ...deviceArgs(name));
    expect(imported.exitCode, imported.stderr).toBe(0);
    const file = join(tmp, `${name}.json`);
    writeFileSync(file, imported.stdout);
    const checked = await cli(lab, 'gw', 'check', '--config', file);
    if (checked.exitCode !== 0) console.error(`${name}:\n${checked.stderr}\n${await lab.dump()}`);
    expect(checked.exitCode, checked.stderr).toBe(0);
    expect(checked.stdout).toMatch(/: OK: \d+ interfaces?, /);
    // Every mapped device exists with a default route: no interface is left waiting for the system.
    expect(checked.stdout).not.toMatch(/down for now/);
    expect(checked.stderr).not.toMatch(/does not exist|no IPv4 default route|no IPv6 default route/);
    // `check` changes nothing: no table is left behind for the next fixture.
    const tables = await lab.exec('gw', 'nft', ['list', 'tables']);
    expect(tables.stdout.trim()).toBe('');
  });

  // Last: it leaves the namespace with a table (removed by stop at the end).
  it('a config without interfaces (nswa-empty-policy) applies: IPv4 and IPv6 new connections get the unreachable mark, no WAN table', async () => {
    const imported = await cli(lab, 'gw', 'import-uci', join(root, 'nswa-empty-policy', 'mwan3'));
    const file = join(tmp, 'nswa-apply.json');
    writeFileSync(file, imported.stdout);
    try {
      const applied = await cli(lab, 'gw', 'apply', '--config', file);
      expect(applied.exitCode, applied.stderr).toBe(0);
      expect(applied.stderr).toMatch(/no interfaces: nothing is balanced/);
      const status = await cli(lab, 'gw', 'status', '--json', '--config', file);
      expect(status.exitCode, status.stderr).toBe(0);
      expect((JSON.parse(status.stdout) as { interfaces: unknown[] }).interfaces).toEqual([]);
      const table = (await lab.exec('gw', 'nft', ['list', 'table', 'inet', 'nft_mwan'])).stdout;
      expect(table).toMatch(/chain classify/);
      // The unreachable mark leads to an unreachable ip rule in both families (ipv6WithoutWan "lastResort" was imported).
      for (const family of ['-4', '-6']) {
        const rules = (await lab.ip('gw', [family, 'rule', 'show'])).stdout;
        expect(rules).toMatch(/fwmark 0x3d00\/0x3f00 .*unreachable/);
        expect(rules).not.toMatch(/lookup 100\d/);
      }
      // The router's own new connections follow the rules too: beyond the main table's specific routes, both families
      // get the unreachable route, so the packet never reaches the output filter hook (counted by the test's own table).
      await lab.nft(
        'gw',
        'table inet corpus_probe {\n chain out {\n  type filter hook output priority 0;\n  ip daddr 203.0.113.7 counter\n  ip6 daddr 2001:db8:99::7 counter\n }\n}\n',
      );
      for (const [flag, dst] of [
        ['-4', '203.0.113.7'],
        ['-6', '2001:db8:99::7'],
      ] as const) {
        const ping = await lab.exec('gw', 'ping', [flag, '-n', '-c', '1', '-W', '1', dst], { reject: false });
        expect(ping.exitCode).not.toBe(0);
      }
      const counted = (await lab.exec('gw', 'nft', ['list', 'table', 'inet', 'corpus_probe'])).stdout;
      await lab.exec('gw', 'nft', ['delete', 'table', 'inet', 'corpus_probe']);
      expect([...counted.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]))).toEqual([0, 0]);
    } finally {
      const stopped = await cli(lab, 'gw', 'stop', '--config', file);
      expect(stopped.exitCode, stopped.stderr).toBe(0);
    }
    expect((await lab.exec('gw', 'nft', ['list', 'tables'])).stdout.trim()).toBe('');
  });

  it('the daemon runs a config without interfaces: applies it, stays up, and removes its rules when stopped (--stop-on-exit)', async () => {
    const imported = await cli(lab, 'gw', 'import-uci', join(root, 'gxlclc-globals-only', 'mwan3'));
    const d = await startDaemon(lab, JSON.parse(imported.stdout), ['--stop-on-exit']);
    try {
      expect((await d.state())?.interfaces).toEqual({});
      expect((await lab.exec('gw', 'nft', ['list', 'tables'])).stdout).toMatch(/table inet nft_mwan/);
      expect(d.proc.running).toBe(true);
    } finally {
      expect(await d.stop()).toBe(0);
    }
    expect((await lab.exec('gw', 'nft', ['list', 'tables'])).stdout.trim()).toBe('');
  });
});
