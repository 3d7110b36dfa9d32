// mwan3 configs imported and applied in the lab: each fixture's traffic goes where mwan3 would send it.
import { mkdtempSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { endpoint, runTcpClient, startTcpServer } from '../../lab/agents.js';
import { Lab } from '../../lab/netns.js';
import { buildMultiWan, LAB_NET, type MultiWan } from '../../lab/topology.js';
import { describeLab } from '../../lab/vitest.js';
import { BIN, cli, cliOk } from './helpers.js';
import { startDaemon } from './daemon-helpers.js';

const fixtures = new URL('../uci/fixtures/', import.meta.url).pathname;
const [SRV1, SRV2] = LAB_NET.server.addrs as [string, string];
const [SRV6A, SRV6B] = LAB_NET.server.addrs6 as [string, string];
const W = [1, 2, 3].map((k) => LAB_NET.wan[k as 1 | 2 | 3]);

describeLab('mwan3 configs imported and applied', () => {
  const lab = new Lab();
  const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-import-'));
  let applied: string | null = null;
  let net: MultiWan;

  /** import-uci in the gateway: the imported config, as text. */
  const importUci = async (name: string) =>
    (await lab.exec('gw', BIN, ['import-uci', join(fixtures, name, 'mwan3'), '--network', join(fixtures, 'network-lab')])).stdout;
  /** import-uci in the gateway, then apply: returns the config file. */
  const importAndApply = async (name: string) => {
    const file = join(dir, `${name}.json`);
    const config = JSON.parse(await importUci(name)) as { interfaces: Record<string, { family?: string; nat6?: string }> };
    // mwan3 never NATs IPv6, so import writes nat6 "none" (an ISP-routed prefix, or fw4's masq6, does the job on a
    // router). The lab's upstream routers have no route back to the LAN's IPv6 prefix: the test NATs it instead.
    for (const iface of Object.values(config.interfaces)) {
      if (iface.family === 'both' || iface.family === 'ipv6') {
        expect(iface.nat6).toBe('none');
        iface.nat6 = 'masquerade';
      }
    }
    writeFileSync(file, JSON.stringify(config));
    await cliOk(lab, 'gw', 'apply', '--config', file);
    applied = file;
    return file;
  };
  /** Which WAN (1-3) the server saw each of `count` new connections come from. */
  const flows = async (target: string, count = 40) => {
    const r = await runTcpClient(lab, LAB_NET.lan.ns, { target: endpoint(target, 5001), count, concurrency: 10, timeoutMs: 3_000 });
    const by = W.map((w) => (r.peers[w.addr] ?? 0) + (r.peers[w.addr6] ?? 0));
    return { ok: r.ok, wan1: by[0], wan2: by[1], wan3: by[2] };
  };

  beforeAll(async () => {
    net = await buildMultiWan(lab, { wans: 3, ipv6: true });
    await startTcpServer(
      lab,
      'srv',
      [SRV1, SRV2, SRV6A, SRV6B].map((a) => endpoint(a, 5001)),
    );
  });
  afterEach(async () => {
    if (applied) await cli(lab, 'gw', 'stop', '--config', applied);
    applied = null;
  });
  afterAll(async () => {
    await lab.teardown();
  });

  it('the shipped example: IPv4 and IPv6 balanced 3:2 over wan and wanb, one interface per dual-stack uplink', async () => {
    await importAndApply('shipped-example');
    for (const target of [SRV1, SRV6A]) {
      const r = await flows(target, 100);
      expect(r.ok).toBe(100);
      expect(r.wan3).toBe(0);
      // 3:2, within 5 standard deviations of 60 out of 100.
      expect(Math.abs((r.wan1 as number) - 60)).toBeLessThan(5 * Math.sqrt(100 * 0.6 * 0.4));
    }
  });

  it("mwan3's views: policies with live percentages, connected networks, rules in order", async () => {
    const file = await importAndApply('shipped-example');
    const policies = await cliOk(lab, 'gw', 'policies', '--config', file);
    expect(policies).toMatch(/Current ipv4 policies:\n[\s\S]*balanced:\n wan \(60%\)\n wanb \(40%\)/);
    expect(policies).toMatch(/wan_wanb:\n wan \(100%\)/);
    expect(policies).toMatch(/Current ipv6 policies:/);
    const connected = await cliOk(lab, 'gw', 'connected', '--config', file);
    expect(connected).toMatch(/Directly connected ipv4 networks:\n[\s\S]*192\.168\.10\.0\/24/);
    expect(connected).toMatch(/Directly connected ipv6 networks:/);
    const rules = await cliOk(lab, 'gw', 'rules', '--config', file);
    expect(rules.trim().split('\n').slice(1)).toEqual([
      ' https: tcp dport 443 -> balanced (sticky 600s)',
      ' default_rule_v4: ipv4 everything -> balanced',
      ' default_rule_v6: ipv6 everything -> balanced',
    ]);
  });

  it('failover only: everything through wan while it is up; wan cut upstream, new connections go through wanb and back', async () => {
    const d = await startDaemon(lab, JSON.parse(await importUci('failover-only')));
    applied = d.configPath;
    const policies = () => cliOk(lab, 'gw', 'policies', '--config', d.configPath, '--state-dir', d.stateDir);
    try {
      await d.waitFor('wan', 'online');
      await d.waitFor('wanb', 'online');
      expect(await flows(SRV1)).toMatchObject({ ok: 40, wan1: 40 });
      expect(await policies()).toMatch(/failover:\n wan \(100%\)\n?$/);

      await net.setUpstream(1, 'drop');
      // The imported tracking (interval 1 s, timeout 1 s, down 3) fails over in seconds; mwan3's defaults take about a minute.
      expect(await d.waitFor('wan', 'offline', 15_000)).toBeLessThan(10_000);
      expect(await flows(SRV1)).toMatchObject({ ok: 40, wan2: 40 });
      // Live percentages: the view asks the daemon, so wanb, the metric-2 member, now has everything.
      expect(await policies()).toMatch(/failover:\n wanb \(100%\)\n?$/);

      await net.setUpstream(1, 'up');
      await d.waitFor('wan', 'online', 15_000);
      expect(await flows(SRV1)).toMatchObject({ ok: 40, wan1: 40 });
      expect(await policies()).toMatch(/failover:\n wan \(100%\)\n?$/);
    } finally {
      await net.setUpstream(1, 'up');
      await d.stop();
    }
  });

  it('three WANs by weight: all three carry traffic; the never-enabled one is left out', async () => {
    const file = await importAndApply('three-wans');
    const r = await flows(SRV1, 120);
    expect(r.ok).toBe(120);
    for (const n of [r.wan1, r.wan2, r.wan3]) expect(n).toBeGreaterThan(0);
    expect(r.wan1).toBeGreaterThan(r.wan3 as number);
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')).interfaces)).toEqual(['wan', 'wanb', 'wanc']);
  });

  it('dual stack: the IPv6 server pinned to wanb, the rest balanced in both families', async () => {
    await importAndApply('dual-stack');
    expect(await flows(SRV6B, 20)).toMatchObject({ ok: 20, wan2: 20 });
    const v6 = await flows(SRV6A, 40);
    expect(v6.ok).toBe(40);
    expect(v6.wan1).toBeGreaterThan(0);
    expect(v6.wan2).toBeGreaterThan(0);
  });

  it('sticky https: a LAN host keeps one WAN for the sticky ports', async () => {
    await importAndApply('sticky-https');
    const r = await flows(SRV1, 30);
    expect(r.ok).toBe(30);
    expect([r.wan1, r.wan2].sort()).toEqual([0, 30]);
  });

  it('ipset rules: the imported set steers its destinations once filled', async () => {
    const file = await importAndApply('ipset-rules');
    expect(await flows(SRV2, 10)).toMatchObject({ ok: 10, wan1: 10 });
    await cliOk(lab, 'gw', 'set', 'add', 'streaming', SRV2, '--config', file);
    expect(await flows(SRV2, 10)).toMatchObject({ ok: 10, wan2: 10 });
    expect(await flows(SRV1, 10)).toMatchObject({ ok: 10, wan1: 10 });
  });

  it('an existing /etc/mwan3.user runs as mwan3 runs it: /bin/sh, only ACTION, INTERFACE and DEVICE', async () => {
    const user = join(dir, 'mwan3.user');
    const out = join(dir, 'mwan3.user.log');
    writeFileSync(user, `echo "$ACTION $INTERFACE $DEVICE \${NFT_MWAN_STATE:-none}" >> ${out}\n`);
    chmodSync(user, 0o644);
    const config = JSON.parse(readFileSync(join(fixtures, 'failover-only', 'config.json'), 'utf8'));
    config.globals = { ...config.globals, mwan3User: user };
    const d = await startDaemon(lab, config);
    applied = d.configPath;
    try {
      await cliOk(lab, 'gw', 'ifdown', 'wanb', '--state-dir', d.stateDir);
      await lab.waitFor(
        () => {
          try {
            return readFileSync(out, 'utf8').includes('ifdown');
          } catch {
            return false;
          }
        },
        { timeoutMs: 5_000, what: 'mwan3.user to run' },
      );
      expect(readFileSync(out, 'utf8').trim().split('\n')).toEqual(['ifdown wanb wan2 none']);
      const interfaces = await cliOk(lab, 'gw', 'interfaces', '--config', d.configPath, '--state-dir', d.stateDir);
      expect(interfaces).toMatch(/interface wan is online \d\dh:\d\dm:\d\ds, uptime \d\dh:\d\dm:\d\ds and tracking is active/);
      expect(interfaces).toMatch(/interface wanb is offline, down for \d\dh:\d\dm:\d\ds and tracking is paused \(ifdown\)/);
    } finally {
      await d.stop();
    }
  });
});
