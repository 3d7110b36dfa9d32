// The namespace lab on its own, without nft-mwan: paths through each ISP, ISP anti-spoofing, upstream cuts, and clean teardown.
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { endpoint, runTcpClient, startTcpHold, startTcpServer } from '../../lab/agents.js';
import { Lab, listNamespaces, newPrefix, withLab } from '../../lab/netns.js';
import { buildMultiWan, LAB_NET, type MultiWan, type WanIndex } from '../../lab/topology.js';
import { describeLab } from '../../lab/vitest.js';

const SERVER = LAB_NET.server.addrs[0];
const PORT = 5001;
const TARGET = endpoint(SERVER, PORT);

/** One ICMP echo from the gateway bound to wanK: the only route on that device is ISP k's. */
async function pingVia(topo: MultiWan, k: WanIndex, target: string = SERVER): Promise<boolean> {
  const family = target.includes(':') ? ['-6'] : [];
  const r = await topo.lab.exec('gw', 'ping', [...family, '-n', '-c1', '-W1', '-I', `wan${k}`, target], { reject: false });
  return r.exitCode === 0;
}

const MASQUERADE_WAN1 = `table ip nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan1" masquerade
  }
}
`;

describeLab('the multi-WAN lab', () => {
  it.each([2, 3] as const)('with %i WANs reaches the server through every ISP from the gateway', (wans) =>
    withLab(async (lab) => {
      const topo = await buildMultiWan(lab, { wans });
      for (const k of topo.wans) expect(await pingVia(topo, k), `ping via wan${k}`).toBe(true);
      for (const k of topo.wans) expect(await topo.ispDrops(k)).toBe(0);
    }),
  );

  it('gives the gateway a main-table default route per WAN with increasing metrics, like netifd', () =>
    withLab(async (lab) => {
      await buildMultiWan(lab, { wans: 3 });
      const { stdout } = await lab.ip('gw', ['-j', 'route', 'show', 'default']);
      const routes = (JSON.parse(stdout) as { gateway: string; dev: string; metric: number }[]).map(({ gateway, dev, metric }) => ({ gateway, dev, metric }));
      expect(routes).toEqual([
        { gateway: '198.51.100.1', dev: 'wan1', metric: 10 },
        { gateway: '198.51.100.9', dev: 'wan2', metric: 20 },
        { gateway: '198.51.100.17', dev: 'wan3', metric: 30 },
      ]);
    }));

  it('shows the server the ISP-side address of whoever connects, and the ISP drops any other source', () =>
    withLab(async (lab) => {
      const topo = await buildMultiWan(lab, { wans: 2 });
      await startTcpServer(lab, 'srv', [TARGET]);
      const own = await runTcpClient(lab, 'gw', { target: TARGET, count: 3, source: LAB_NET.wan[1].addr });
      expect(own).toMatchObject({ ok: 3, failed: 0, peers: { [LAB_NET.wan[1].addr]: 3 }, locals: { [SERVER]: 3 } });
      // wan2's address leaves by the main table's first default route, wan1: ISP 1 must refuse it.
      const spoofed = await runTcpClient(lab, 'gw', { target: TARGET, count: 1, source: LAB_NET.wan[2].addr, timeoutMs: 500 });
      expect(spoofed).toMatchObject({ ok: 0, failed: 1 });
      expect(await topo.ispDrops(1)).toBeGreaterThan(0);
    }));

  it('lets a LAN host reach the server only once the gateway masquerades', () =>
    withLab(async (lab) => {
      const topo = await buildMultiWan(lab, { wans: 2 });
      await startTcpServer(lab, 'srv', [TARGET]);
      const before = await runTcpClient(lab, 'lan', { target: TARGET, count: 1, timeoutMs: 500 });
      expect(before).toMatchObject({ ok: 0, failed: 1 });
      expect(await topo.ispDrops(1)).toBeGreaterThan(0);

      await lab.nft('gw', MASQUERADE_WAN1);
      const after = await runTcpClient(lab, 'lan', { target: TARGET, count: 20, concurrency: 5 });
      expect(after).toEqual({ ok: 20, failed: 0, peers: { [LAB_NET.wan[1].addr]: 20 }, locals: { [SERVER]: 20 }, errors: [] });
      const passed = await topo.ispCounters(1);
      expect(passed.passed.packets).toBeGreaterThan(0);
    }));

  it.each(['drop', 'reject', 'down'] as const)('cuts ISP 2 upstream with "%s" and restores it', (state) =>
    withLab(async (lab) => {
      const topo = await buildMultiWan(lab, { wans: 2 });
      await topo.setUpstream(2, state);
      expect(await pingVia(topo, 2)).toBe(false);
      expect(await pingVia(topo, 1)).toBe(true);
      await topo.setUpstream(2, 'up');
      expect(await pingVia(topo, 2)).toBe(true);
    }),
  );

  it('keeps a long-lived flow echoing and reports when its path breaks', () =>
    withLab(async (lab) => {
      const topo = await buildMultiWan(lab, { wans: 2 });
      await startTcpServer(lab, 'srv', [TARGET]);
      await lab.nft('gw', MASQUERADE_WAN1);
      const steady = await startTcpHold(lab, 'lan', { target: TARGET, intervalMs: 20 });
      expect(steady.connected.peer).toBe(LAB_NET.wan[1].addr);
      await lab.waitFor(async () => (await topo.ispCounters(1)).passed.packets > 10, { timeoutMs: 3_000, what: 'echoes' });
      await topo.setUpstream(1, 'drop');
      // A deliberate outage of known length, which the summary's gap must cover.
      await new Promise((r) => setTimeout(r, 300));
      const summary = await steady.stop();
      expect(summary.sent).toBeGreaterThan(summary.echoed);
      expect(summary.maxGapMs).toBeGreaterThanOrEqual(250);
      expect(summary).toMatchObject({ closed: false, mismatched: 0 });
    }));

  it('loses carrier on the gateway side when the ISP end of a WAN link goes down', () =>
    withLab(async (lab) => {
      const topo = await buildMultiWan(lab, { wans: 2 });
      await topo.setCarrier(1, 'down');
      await lab.waitFor(async () => (await lab.ip('gw', ['link', 'show', 'wan1'])).stdout.includes('NO-CARRIER'), {
        timeoutMs: 2_000,
        what: 'wan1 to report NO-CARRIER',
      });
      expect(await pingVia(topo, 1)).toBe(false);
      await topo.setCarrier(1, 'up');
      await lab.waitFor(() => pingVia(topo, 1), { timeoutMs: 5_000, what: 'ping via wan1 after carrier returns' });
    }));

  it('builds the same paths over IPv6 when asked', () =>
    withLab(async (lab) => {
      const topo = await buildMultiWan(lab, { wans: 2, ipv6: true });
      for (const k of topo.wans) expect(await pingVia(topo, k, LAB_NET.server.addrs6[0]), `ping -6 via wan${k}`).toBe(true);
      await startTcpServer(lab, 'srv', [endpoint(LAB_NET.server.addrs6[0], PORT)]);
      const r = await runTcpClient(lab, 'gw', {
        target: endpoint(LAB_NET.server.addrs6[0], PORT),
        count: 1,
        source: LAB_NET.wan[2].addr6,
        timeoutMs: 500,
      });
      // Out through wan1 by the lowest metric, with wan2's source: ISP 1 drops it, as for IPv4.
      expect(r.failed).toBe(1);
      expect(await topo.ispDrops(1)).toBeGreaterThan(0);
    }));
});

describeLab('lab teardown', () => {
  it('deletes every namespace and kills every process even when the test body throws', async () => {
    let names: string[] = [];
    let pid = 0;
    const failure = withLab(async (lab) => {
      await buildMultiWan(lab, { wans: 3 });
      names = lab.namespaces();
      pid = (await startTcpServer(lab, 'srv', [TARGET])).pid;
      throw new Error('boom');
    });
    await expect(failure).rejects.toThrow(/boom/);
    // The dump was attached before teardown, so it still shows the ISPs' filter.
    await expect(failure).rejects.toThrow(/table inet ispfilter/);
    expect(names).toHaveLength(7);
    expect(listNamespaces().filter((n) => names.includes(n))).toEqual([]);
    expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  });

  it('runs the remaining undos and deletes the namespaces when one undo fails', async () => {
    const lab = new Lab();
    const order: string[] = [];
    await lab.addNamespace('a');
    lab.defer('first', () => order.push('first'));
    lab.defer('broken', () => {
      throw new Error('undo failed');
    });
    lab.defer('last', () => order.push('last'));
    await lab.addNamespace('b');
    await expect(lab.teardown()).rejects.toThrow(/broken: undo failed/);
    expect(order).toEqual(['last', 'first']);
    expect(listNamespaces().filter((n) => n.startsWith(`${lab.prefix}-`))).toEqual([]);
  });

  it('kills a background process that ignores SIGTERM with SIGKILL after the grace period', () =>
    withLab(async (lab) => {
      await lab.addNamespace('a');
      const stubborn = lab.spawn('a', process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000); console.log('ready')"]);
      await stubborn.waitForLine('ready', { timeoutMs: 5_000 });
      expect(await stubborn.kill(200)).toEqual({ exitCode: null, signal: 'SIGKILL' });
    }));

  it.each(['SIGINT', 'SIGTERM'] as const)('removes its namespaces when the process running it gets %s', async (signal) => {
    // A separate process (a benchmark, say) holding a lab; the built lab module, as the scripts use it.
    const netns = new URL('../../dist/lab/netns.js', import.meta.url).href;
    const script =
      `const { Lab } = await import(${JSON.stringify(netns)}); const lab = new Lab(); ` +
      `await lab.addNamespace('held'); console.log(lab.nsName('held')); setInterval(() => {}, 1000);`;
    const child = execa(process.execPath, ['--input-type=module', '-e', script], { reject: false, buffer: { stdout: false } });
    const name = await new Promise<string>((resolve, reject) => {
      child.stdout?.once('data', (d: Buffer) => resolve(String(d).trim()));
      void child.then((r) => reject(new Error(`the lab process ended first: ${r.stderr}`)));
    });
    try {
      expect(listNamespaces()).toContain(name);
      child.kill(signal);
      const r = await child;
      expect(r.exitCode).toBe(128 + (signal === 'SIGINT' ? 2 : 15));
      expect(listNamespaces()).not.toContain(name);
    } finally {
      child.kill('SIGKILL');
      if (listNamespaces().includes(name)) await execa('ip', ['netns', 'del', name], { reject: false });
    }
  });

  it('refuses to run anything in a namespace that is not its own', async () => {
    const lab = new Lab();
    try {
      await expect((async () => lab.exec('gw', 'true'))()).rejects.toThrow(/no namespace "gw"/);
    } finally {
      await lab.teardown();
    }
  });
});

describe('lab prefixes', () => {
  it('are unique per lab and short enough for readable namespace names', () => {
    const prefixes = new Set(Array.from({ length: 50 }, () => newPrefix()));
    expect(prefixes.size).toBe(50);
    for (const p of prefixes) expect(p).toMatch(/^nm[0-9a-z]{6}$/);
  });
});
