// Host-name probe targets under the daemon, in a namespace lab: wan2 is tracked by TCP to a name that the
// gateway's own resolver answers (a per-namespace /etc/hosts: `ip netns exec` bind-mounts /etc/netns/NS/* over
// /etc, never the host's file). The router's own new connections are sent to wan1 by the rules, so a probe to the
// name's address that lost its pair in probe_pairs would answer through wan1: only a probe kept on wan2 sees
// wan2's upstream cut. The name is looked up at every round: re-pointed, it is followed without a re-apply.
import { existsSync, mkdirSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { endpoint, startTcpServer } from '../../lab/agents.js';
import { Lab } from '../../lab/netns.js';
import { buildMultiWan, LAB_NET, type MultiWan } from '../../lab/topology.js';
import { describeLab } from '../../lab/vitest.js';
import { logOnFailure, removeNftMwan, startDaemon, stopTestDaemon, type RunningDaemon } from './daemon-helpers.js';

const W2 = LAB_NET.wan[2];
const [SRV1] = LAB_NET.server.addrs as [string, string];
/** In the server's network, answered by nobody. */
const NOBODY = '192.0.2.99';
const NAME = 'probe.nft-mwan.test';

const config = {
  interfaces: {
    wan1: { device: 'wan1', gateway: 'auto' },
    wan2: {
      device: 'wan2',
      gateway: W2.gateway,
      track: { method: 'tcp', targets: [`${NAME}:5001`], interval: 0.2, timeout: 0.3, down: 3, up: 3 },
    },
  },
  policies: {
    wan1_first: {
      members: [
        { interface: 'wan1', metric: 1 },
        { interface: 'wan2', metric: 2 },
      ],
    },
  },
  rules: [{ name: 'default', policy: 'wan1_first' }],
};

describeLab('host-name track targets under the daemon', () => {
  const lab = new Lab();
  let net: MultiWan;
  let daemon: RunningDaemon | null = null;
  let hostsFile = '';
  const pointName = (address: string | null) => {
    // Written in place (same inode): the daemon's bind mount of this file sees the change.
    writeFileSync(hostsFile, `127.0.0.1 localhost\n${address === null ? '' : `${address} ${NAME}\n`}`);
  };

  beforeAll(async () => {
    net = await buildMultiWan(lab, { wans: 2 });
    const dir = join('/etc/netns', lab.nsName('gw'));
    const parentExisted = existsSync('/etc/netns');
    mkdirSync(dir, { recursive: true });
    lab.defer(`remove ${dir}`, () => {
      rmSync(dir, { recursive: true, force: true });
      if (!parentExisted && existsSync('/etc/netns') && readdirSync('/etc/netns').length === 0) rmdirSync('/etc/netns');
    });
    hostsFile = join(dir, 'hosts');
    pointName(SRV1);
    // Files only: a name missing from the hosts file is ENOTFOUND at once, with no DNS server to wait for.
    writeFileSync(join(dir, 'nsswitch.conf'), 'hosts: files\n');
    await startTcpServer(lab, 'srv', [endpoint(SRV1, 5001)]);
    // wan2 has no main-table default: the probe's way out is nft-mwan's rules alone.
    await lab.ip('gw', ['route', 'del', 'default', 'via', W2.gateway, 'dev', W2.dev]);
  });

  afterEach(async () => {
    const configPath = await stopTestDaemon(daemon);
    daemon = null;
    await net.setUpstream(2, 'up');
    pointName(SRV1);
    await removeNftMwan(lab, configPath);
  });

  afterAll(async () => {
    await lab.teardown();
  });

  const start = async () => {
    const d = await startDaemon(lab, config);
    daemon = d;
    logOnFailure(d);
    return d;
  };

  const results = async (d: RunningDaemon) => (await d.iface('wan2'))?.lastRound?.results ?? [];

  it('stays online while the name answers through wan2, goes offline when wan2 cannot reach it, back once it can', async () => {
    const d = await start();
    await d.waitFor('wan2', 'online');
    // The lookup's address is in the set, paired with wan2's own address.
    const set = await lab.exec('gw', 'nft', ['list', 'set', 'inet', 'nft_mwan', 'probe_pairs']);
    expect(set.stdout).toMatch(new RegExp(`${W2.addr.replace(/\./g, '\\.')} \\. ${SRV1.replace(/\./g, '\\.')} timeout`));
    // Many rounds later, still online, every round good.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await d.iface('wan2')).toMatchObject({ state: 'online' });
    expect(await results(d)).toEqual([expect.objectContaining({ target: `${NAME}:5001`, ok: true })]);
    expect(d.log().filter((l) => /wan2: \w+ -> offline/.test(l))).toEqual([]);

    // wan1 still reaches the server: an unkept probe would answer through it.
    await net.setUpstream(2, 'drop');
    await d.waitFor('wan2', 'offline', 5_000);
    await net.setUpstream(2, 'up');
    await d.waitFor('wan2', 'online', 8_000);
  });

  it('follows the name at every round: re-pointed at a host that does not answer, offline; removed, "resolve failed: ENOTFOUND"', async () => {
    const d = await start();
    await d.waitFor('wan2', 'online');
    pointName(NOBODY);
    await d.waitFor('wan2', 'offline', 5_000);
    pointName(SRV1);
    await d.waitFor('wan2', 'online', 8_000);
    pointName(null);
    await d.waitFor('wan2', 'offline', 5_000);
    expect(await results(d)).toEqual([{ target: `${NAME}:5001`, ok: false, rttMs: null, error: 'resolve failed: ENOTFOUND' }]);
    expect(d.log().some((l) => l.includes('resolve failed: ENOTFOUND'))).toBe(true);
    // The daemon kept running, no apply was needed for any of it.
    expect(d.proc.running).toBe(true);
    pointName(SRV1);
    await d.waitFor('wan2', 'online', 8_000);
  });
});
