// Dual stack in the lab: IPv6 balanced and pinned next to IPv4, NAT per family, failover for both.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { endpoint, runTcpClient, startTcpServer } from '../../lab/agents.js';
import { Lab } from '../../lab/netns.js';
import { buildMultiWan, LAB_NET, type MultiWan } from '../../lab/topology.js';
import { describeLab } from '../../lab/vitest.js';
import { cli, cliOk, configFile } from './helpers.js';
import { startDaemon } from './daemon-helpers.js';

const W1 = LAB_NET.wan[1];
const W2 = LAB_NET.wan[2];
const [SRV1] = LAB_NET.server.addrs as [string, string];
const [SRV6A, SRV6B] = LAB_NET.server.addrs6 as [string, string];
const LAN = LAB_NET.lan;

const dual = (wan2: Record<string, unknown> = {}) => ({
  interfaces: {
    wan1: { device: 'wan1', family: 'both', gateway: 'auto', gateway6: 'auto', track: { targets: [SRV1], interval: 0.2, timeout: 0.2 } },
    wan2: { device: 'wan2', family: 'both', gateway: 'auto', gateway6: 'auto', track: { targets: [SRV1], interval: 0.2, timeout: 0.2 }, ...wan2 },
  },
  policies: {
    balanced: { members: [{ interface: 'wan1' }, { interface: 'wan2' }] },
    wan2_only: { members: [{ interface: 'wan2' }] },
  },
  rules: [
    { name: 'pin6', destIp: [`${SRV6B}/128`], proto: 'tcp', destPort: [5001], policy: 'wan2_only' },
    { name: 'default', policy: 'balanced' },
  ],
});

describeLab('dual stack', () => {
  const lab = new Lab();
  let net: MultiWan;
  let last: string | null = null;
  const flows = async (target: string, count = 30) => {
    const r = await runTcpClient(lab, LAN.ns, { target: endpoint(target, 5001), count, concurrency: 10, timeoutMs: 3_000 });
    return { ok: r.ok, wan1: (r.peers[W1.addr6] ?? 0) + (r.peers[W1.addr] ?? 0), wan2: (r.peers[W2.addr6] ?? 0) + (r.peers[W2.addr] ?? 0), peers: r.peers };
  };

  beforeAll(async () => {
    net = await buildMultiWan(lab, { wans: 2, ipv6: true });
    await startTcpServer(lab, 'srv', [endpoint(SRV1, 5001), endpoint(SRV6A, 5001), endpoint(SRV6B, 5001)]);
  });
  afterEach(async () => {
    await net.setUpstream(2, 'up');
    if (last) await cli(lab, 'gw', 'stop', '--config', last);
    last = null;
  });
  afterAll(async () => {
    await lab.teardown();
  });

  it('balances IPv6 and IPv4 over both WANs, masquerading each family to the WAN\'s own address; pins by IPv6 prefix', async () => {
    last = configFile(dual());
    await cliOk(lab, 'gw', 'apply', '--config', last);
    const v6 = await flows(SRV6A);
    expect(v6.ok).toBe(30);
    expect(v6.wan1).toBeGreaterThan(0);
    expect(v6.wan2).toBeGreaterThan(0);
    expect(v6.wan1 + v6.wan2).toBe(30);
    const v4 = await flows(SRV1);
    expect(v4).toMatchObject({ ok: 30 });
    expect(v4.wan1 + v4.wan2).toBe(30);
    expect(await flows(SRV6B, 10)).toMatchObject({ ok: 10, wan2: 10 });
    // IPv6 ip rules and routes exist and are nft-mwan's.
    expect((await lab.ip('gw', ['-6', 'rule', 'show'])).stdout).toMatch(/fwmark 0x200\/0x3f00 lookup 1002 proto 77/);
    expect((await lab.ip('gw', ['-6', 'route', 'show', 'table', '1002'])).stdout).toMatch(/default via 2001:db8:2::1 dev wan2 proto 77/);
    // Applying again changes nothing (IPv6 routes read back as planned).
    const again = await cli(lab, 'gw', 'apply', '--config', last);
    expect(again.stderr).toMatch(/already up to date/);
  });

  it('nat6 none leaves IPv6 sources alone: the ISP, which only forwards the gateway\'s own address, drops them', async () => {
    last = configFile(dual({ nat6: 'none' }));
    await cliOk(lab, 'gw', 'apply', '--config', last);
    const before = await net.ispDrops(2);
    const r = await flows(SRV6B, 5);
    expect(r.ok).toBe(0);
    expect(await net.ispDrops(2)).toBeGreaterThan(before);
    // IPv4 through the same WAN is still masqueraded.
    expect((await flows(SRV1, 20)).ok).toBe(20);
  });

  it('failover moves both families: isp2 cut, new IPv6 and IPv4 connections all go through wan1', async () => {
    const d = await startDaemon(lab, dual());
    last = d.configPath;
    try {
      await d.waitFor('wan2', 'online');
      await net.setUpstream(2, 'drop');
      await d.waitFor('wan2', 'offline', 3_000);
      expect(await flows(SRV6A, 20)).toMatchObject({ ok: 20, wan1: 20 });
      expect(await flows(SRV1, 20)).toMatchObject({ ok: 20, wan1: 20 });
      // The IPv6-pinned destination has no member left: refused (unreachable), not leaked through wan1.
      expect((await flows(SRV6B, 5)).ok).toBe(0);
      await net.setUpstream(2, 'up');
      await d.waitFor('wan2', 'online', 5_000);
      expect(await flows(SRV6B, 5)).toMatchObject({ ok: 5, wan2: 5 });
    } finally {
      await d.stop();
    }
  });
});
