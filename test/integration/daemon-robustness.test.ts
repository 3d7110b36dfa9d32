// The daemon through bad moments: probe programs that hang or crash, nft failing, a device that vanishes and returns.
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { endpoint, runTcpClient, runUdpClient, startTcpServer, startUdpServer } from '../../lab/agents.js';
import { Lab } from '../../lab/netns.js';
import { whichOnPath } from '../../lab/prereqs.js';
import { buildMultiWan, LAB_NET, type MultiWan } from '../../lab/topology.js';
import { describeLab } from '../../lab/vitest.js';
import { cli } from './helpers.js';
import { logOnFailure, removeNftMwan, startDaemon, stopTestDaemon, type RunningDaemon } from './daemon-helpers.js';

const W1 = LAB_NET.wan[1];
const W2 = LAB_NET.wan[2];
const [SRV1] = LAB_NET.server.addrs as [string];

const track = { targets: [SRV1], interval: 0.2, timeout: 0.3, down: 3, up: 3 };
const config = {
  interfaces: {
    wan1: { device: 'wan1', gateway: 'auto', track },
    wan2: { device: 'wan2', gateway: 'auto', track },
  },
  policies: { balanced: { members: [{ interface: 'wan1' }, { interface: 'wan2' }] } },
  rules: [{ name: 'default', policy: 'balanced' }],
};

/**
 * Stand-ins for ping and nft, first in the daemon's PATH: each behaves like the real program until a
 * mode file next to it says otherwise (ping: "hang" or "crash"; nft: "fail").
 */
function wrappers(): { dir: string; set(tool: 'ping' | 'nft', mode: string | null): void } {
  const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-wrap-'));
  const script = (tool: string, real: string, modes: string) => `#!/bin/sh\nmode=$(cat ${dir}/${tool}.mode 2>/dev/null)\n${modes}\nexec ${real} "$@"\n`;
  writeFileSync(join(dir, 'ping'), script('ping', '/usr/bin/ping', 'case "$mode" in hang) exec sleep 3600;; crash) kill -SEGV $$;; esac'));
  // The nft the test's PATH finds (CI's second pass: Debian 13's), so the daemon and the dumps share one version.
  writeFileSync(join(dir, 'nft'), script('nft', whichOnPath('nft') ?? '/usr/sbin/nft', '[ "$mode" = fail ] && { echo "nft: simulated failure" >&2; exit 1; }'));
  chmodSync(join(dir, 'ping'), 0o755);
  chmodSync(join(dir, 'nft'), 0o755);
  return {
    dir,
    set(tool, mode) {
      const file = join(dir, `${tool}.mode`);
      if (mode === null) rmSync(file, { force: true });
      else writeFileSync(file, mode);
    },
  };
}

/** SIGKILL the direct children of `pid` whose command is `comm` (processes this test's daemon started). */
function killChildren(pid: number, comm: string): void {
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    for (const child of children.map(Number)) {
      try {
        if (readFileSync(`/proc/${child}/comm`, 'utf8').trim() === comm) process.kill(child, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
  }
}

describeLab('nft-mwan daemon: survives bad moments', () => {
  const lab = new Lab();
  let net: MultiWan;
  let daemon: RunningDaemon | null = null;
  const wrap = wrappers();

  const flows = async (count = 20) => {
    const r = await runTcpClient(lab, LAB_NET.lan.ns, { target: endpoint(SRV1, 5001), count, concurrency: 10, timeoutMs: 2_000 });
    return { ok: r.ok, wan1: r.peers[W1.addr] ?? 0, wan2: r.peers[W2.addr] ?? 0 };
  };

  /** `env`: e.g. NFT_MWAN_NFT=cli for the stand-in nft to be run at all (in process, the daemon never runs the command). */
  const start = async (env: Record<string, string> = {}) => {
    const d = await startDaemon(lab, config, [], { path: `${wrap.dir}:/usr/sbin:/usr/bin:/sbin:/bin`, env });
    daemon = d;
    logOnFailure(d, (log) => log.filter((l) => !l.includes('debug: run:')));
    await d.waitFor('wan1', 'online');
    await d.waitFor('wan2', 'online');
    return d;
  };
  type Daemon = Awaited<ReturnType<typeof start>>;

  /** Takes wan2 out (ifdown) or puts it back (ifup) and waits for the apply; returns the daemon's log lines of it. */
  const toggle = async (d: Daemon, verb: 'ifdown' | 'ifup') => {
    const applied = () => d.log().filter((l) => l.includes('states applied in')).length;
    const before = applied();
    const from = d.log().length;
    expect((await cli(lab, 'gw', verb, 'wan2', '--state-dir', d.stateDir)).exitCode).toBe(0);
    await d.waitFor('wan2', verb === 'ifdown' ? 'offline' : 'online', 5_000);
    await lab.waitFor(() => applied() > before, { timeoutMs: 5_000, what: `the apply after ${verb}` });
    return d.log().slice(from);
  };

  /**
   * Runs `act`, a change behind the daemon's back, and waits for the repair the daemon makes as soon as its monitor
   * reports it; returns the daemon's log lines from `act` to the end of that repair's apply. The repair races with
   * anything the test could read in between, so nothing is read before it is over.
   */
  const repairOf = async (d: Daemon, why: string, act: () => Promise<unknown>) => {
    const from = d.log().length;
    await act();
    let lines: string[] = [];
    await lab.waitFor(
      () => {
        lines = d.log().slice(from);
        const at = lines.findIndex((l) => l.includes(`repaired nft-mwan's table and routing (${why})`));
        return at >= 0 && lines.slice(at).some((l) => l.includes('states applied in'));
      },
      { timeoutMs: 5_000, what: `the repair (${why})` },
    );
    return lines;
  };

  beforeAll(async () => {
    net = await buildMultiWan(lab, { wans: 2 });
    await startTcpServer(lab, 'srv', [endpoint(SRV1, 5001)]);
    await lab.addNamespace('park');
  });

  afterEach(async () => {
    wrap.set('ping', null);
    wrap.set('nft', null);
    await net.setUpstream(2, 'up');
    const configPath = await stopTestDaemon(daemon);
    daemon = null;
    await removeNftMwan(lab, configPath);
  });

  afterAll(async () => {
    rmSync(wrap.dir, { recursive: true, force: true });
    await lab.teardown();
  });

  it.each(['hang', 'crash'])('a probe program that starts to %s fails its rounds; the daemon carries on and recovers', async (mode) => {
    const d = await start();
    wrap.set('ping', mode);
    // The daemon's pings run continuously: end the ones it has running (its own children, by pid), so
    // the next ones it starts are the broken program.
    killChildren(d.proc.pid, 'ping');
    await d.waitFor('wan1', 'offline', 5_000);
    await d.waitFor('wan2', 'offline', 5_000);
    expect(d.proc.running).toBe(true);
    // status tells a broken probe from a broken WAN.
    const error = (await d.iface('wan1'))?.lastRound?.results[0]?.error;
    expect(error).toMatch(mode === 'hang' ? /ping (did not finish|produced no result) within \d+ ms \(killed\)/ : /ping died \(SIGSEGV\)/);
    wrap.set('ping', null);
    await d.waitFor('wan1', 'online', 5_000);
    await d.waitFor('wan2', 'online', 5_000);
    expect((await flows()).ok).toBe(20);
  });

  it('nft failing: the apply is retried with backoff and logged, and lands once nft works again', async () => {
    const d = await start({ NFT_MWAN_NFT: 'cli' });
    wrap.set('nft', 'fail');
    await net.setUpstream(2, 'drop');
    await d.waitFor('wan2', 'offline', 3_000);
    const waits = () =>
      d
        .log()
        .flatMap((l) => /error: apply failed \(attempt \d+\), retrying in ([\d.]+) s/.exec(l)?.[1] ?? [])
        .map(Number);
    await lab.waitFor(() => waits().length >= 3, { timeoutMs: 5_000, what: 'three failed attempts' });
    // Backoff: each wait longer than the one before.
    const [w1, w2, w3] = waits() as [number, number, number];
    expect(w2).toBeGreaterThan(w1);
    expect(w3).toBeGreaterThan(w2);
    expect(d.log().join('\n')).toMatch(/nft: simulated failure/);
    expect((await d.state())?.lastApply).toMatchObject({ ok: false });
    // Still the old rules: some new connections still go to wan2, into its dead ISP, and fail.
    expect((await flows(20)).ok).toBeLessThan(20);
    wrap.set('nft', null);
    await lab.waitFor(async () => (await d.state())?.lastApply?.ok === true, { timeoutMs: 10_000, what: 'a successful apply' });
    expect(await flows(20)).toMatchObject({ ok: 20, wan2: 0 });
  });

  it('a WAN taken out: connection attempts that never got an answer through it are balanced again when retried', async () => {
    const d = await start();
    // isp2 forwards the probes but drops the service's port: wan2 stays online and half the attempts hang.
    await lab.nft(net.ns.isp(2), 'table inet blk {\n chain cut { type filter hook forward priority -10; policy accept; tcp dport 5001 drop\n }\n}\n');
    try {
      const ports = { target: endpoint(SRV1, 5001), count: 12, concurrency: 12, timeoutMs: 1_000, sourcePort: 41000 };
      const first = await runTcpClient(lab, LAB_NET.lan.ns, ports);
      expect(first.failed).toBeGreaterThan(0);
      expect(first.peers[W2.addr] ?? 0).toBe(0);
      expect((await cli(lab, 'gw', 'ifdown', 'wan2', '--state-dir', d.stateDir)).exitCode).toBe(0);
      await lab.waitFor(() => d.log().some((l) => /wan2: deleted \d+ unanswered TCP connection attempts? marked for it/.test(l)), {
        timeoutMs: 5_000,
        what: "wan2's unanswered attempts deleted",
      });
      // The same ports again: without the deletion, the failed ones would still be wan2's (SYN_SENT) in conntrack.
      expect(await runTcpClient(lab, LAB_NET.lan.ns, ports)).toMatchObject({ ok: 12, failed: 0, peers: { [W1.addr]: 12 } });
    } finally {
      await lab.exec(net.ns.isp(2), 'nft', ['delete', 'table', 'inet', 'blk'], { reject: false });
      await cli(lab, 'gw', 'ifup', 'wan2', '--state-dir', d.stateDir);
    }
  });

  it('a WAN taken out: UDP flows that never got a reply through it are balanced again as they keep sending', async () => {
    const d = await start();
    const server = await startUdpServer(lab, LAB_NET.server.ns, [endpoint(SRV1, 5002)]);
    // isp2 forwards the probes but drops the service's port: half the flows get no answer, and each keeps
    // sending from its port (a VPN or SIP client's retries), which keeps its conntrack entry alive on wan2.
    await lab.nft(net.ns.isp(2), 'table inet blk {\n chain cut { type filter hook forward priority -10; policy accept; udp dport 5002 drop\n }\n}\n');
    try {
      const flows = { target: endpoint(SRV1, 5002), count: 12, sourcePort: 43000, timeoutMs: 1_000 };
      const first = await runUdpClient(lab, LAB_NET.lan.ns, flows);
      expect(first.failed).toBeGreaterThan(0);
      expect(first.peers[W2.addr] ?? 0).toBe(0);
      expect((await cli(lab, 'gw', 'ifdown', 'wan2', '--state-dir', d.stateDir)).exitCode).toBe(0);
      await lab.waitFor(() => d.log().some((l) => /wan2: deleted \d+ UDP flows? marked for it that never got a reply/.test(l)), {
        timeoutMs: 5_000,
        what: "wan2's unreplied UDP flows deleted",
      });
      // The same ports again: without the deletion, the unanswered ones would still be wan2's in conntrack.
      expect(await runUdpClient(lab, LAB_NET.lan.ns, flows)).toMatchObject({ ok: 12, failed: 0, peers: { [W1.addr]: 12 } });
    } finally {
      await lab.exec(net.ns.isp(2), 'nft', ['delete', 'table', 'inet', 'blk'], { reject: false });
      await cli(lab, 'gw', 'ifup', 'wan2', '--state-dir', d.stateDir);
      await server.kill();
    }
  });

  it('every WAN out, then one back: flows refused by the last resort (unreachable) left no conntrack entry, so their retries are balanced', async () => {
    const d = await start();
    const server = await startUdpServer(lab, LAB_NET.server.ns, [endpoint(SRV1, 5002)]);
    const flows = { target: endpoint(SRV1, 5002), count: 8, sourcePort: 44000, timeoutMs: 1_000 };
    /** This test's flows in the gateway's conntrack table (an earlier test's flows to the same port may linger). */
    const entries = async () =>
      (await lab.exec('gw', 'conntrack', ['-L', '-p', 'udp', '--dport', '5002'], { reject: false })).stdout.split('\n').filter((l) => /sport=4400\d /.test(l));
    try {
      for (const wan of ['wan1', 'wan2']) expect((await cli(lab, 'gw', 'ifdown', wan, '--state-dir', d.stateDir)).exitCode).toBe(0);
      await d.waitFor('wan1', 'offline', 5_000);
      await d.waitFor('wan2', 'offline', 5_000);
      // No member online: the policy's last resort marks them unreachable and the router refuses them. The ip rule
      // drops the packet before conntrack confirms its entry, so nothing keeps that mark for the next packet:
      // unlike a flow stuck on a dead WAN, these need no deletion when a WAN comes back.
      expect(await runUdpClient(lab, LAB_NET.lan.ns, flows)).toMatchObject({ ok: 0, failed: 8 });
      expect(await entries()).toEqual([]);
      expect((await cli(lab, 'gw', 'ifup', 'wan1', '--state-dir', d.stateDir)).exitCode).toBe(0);
      await d.waitFor('wan1', 'online', 5_000);
      // The same ports again at once (a VPN or SIP client's retries): balanced to the WAN that is back.
      expect(await runUdpClient(lab, LAB_NET.lan.ns, flows)).toMatchObject({ ok: 8, failed: 0, peers: { [W1.addr]: 8 } });
    } finally {
      await cli(lab, 'gw', 'ifup', 'wan1', '--state-dir', d.stateDir);
      await cli(lab, 'gw', 'ifup', 'wan2', '--state-dir', d.stateDir);
      await server.kill();
    }
  });

  it('the ip state is read again only after ip monitor reports a change: an ip rule deleted behind its back is heard and restored at once', async () => {
    const d = await start();
    const owned = async () =>
      (JSON.parse((await lab.ip('gw', ['-j', 'rule', 'show'])).stdout) as { priority: number; protocol?: unknown }[]).filter(
        (r) => String(r.protocol) === '77',
      );
    const ipReads = (lines: string[]) => lines.filter((l) => l.includes('run: ip -j -4 -batch -')).length;
    const toggleReads = async (verb: 'ifdown' | 'ifup') => ipReads(await toggle(d, verb));
    // Once ip monitor listens and the links have settled, state changes reuse what the last apply read.
    await new Promise((r) => setTimeout(r, 1_500));
    const reads = [await toggleReads('ifdown'), await toggleReads('ifup'), await toggleReads('ifdown'), await toggleReads('ifup')];
    expect(reads.slice(1)).toContain(0);
    const rules = await owned();
    expect(rules.length).toBeGreaterThan(2);
    const gone = rules[0] as { priority: number };
    // Heard: the repair reads the ip state afresh (not the snapshot the last apply left) and adds the rule back.
    const repair = await repairOf(d, 'an ip rule or route was deleted', () => lab.ip('gw', ['rule', 'del', 'priority', String(gone.priority)]));
    expect(ipReads(repair)).toBeGreaterThan(0);
    expect(repair.some((l) => l.includes(`ip -4 -batch: rule add priority ${gone.priority} `))).toBe(true);
    expect(await owned()).toHaveLength(rules.length);
    expect(await owned()).toContainEqual(gone);
  });

  it('nft monitor: a state change reads back only the chains it rewrote; a rule someone else deletes is heard and restored at once from a fresh read', async () => {
    const d = await start();
    const nftReads = (lines: string[]) => ({
      table: lines.filter((l) => l.includes('run: nft -j list table inet nft_mwan')).length,
      chains: lines.filter((l) => l.includes('run: nft -j list chain inet nft_mwan')).length,
    });
    const toggleReads = async (verb: 'ifdown' | 'ifup') => nftReads(await toggle(d, verb));
    const classify = async () =>
      (
        JSON.parse((await lab.exec('gw', 'nft', ['-j', 'list', 'chain', 'inet', 'nft_mwan', 'classify'])).stdout) as {
          nftables: { rule?: { handle: number; expr: unknown } }[];
        }
      ).nftables.flatMap((i) => (i.rule ? [i.rule] : []));
    // Once nft monitor listens: the first apply after it still reads the table, the ones after only the chains.
    await new Promise((r) => setTimeout(r, 1_500));
    const reads = [await toggleReads('ifdown'), await toggleReads('ifup'), await toggleReads('ifdown'), await toggleReads('ifup')];
    expect(reads.slice(1)).toContainEqual({ table: 0, chains: 1 });
    const rules = await classify();
    expect(rules.length).toBeGreaterThan(1);
    const gone = (rules[0] as { handle: number }).handle;
    // Someone else deletes a rule from the classify chain, which no state change rewrites. Heard: the repair reads
    // the whole table (not the listing verified before the deletion) and puts the rule back.
    const repair = await repairOf(d, 'another process committed to nftables', () =>
      lab.exec('gw', 'nft', ['delete', 'rule', 'inet', 'nft_mwan', 'classify', 'handle', String(gone)]),
    );
    expect(nftReads(repair).table).toBeGreaterThan(0);
    const after = await classify();
    // The same rules, the deleted one added anew (handles are never reused).
    expect(after.map((r) => r.expr)).toEqual(rules.map((r) => r.expr));
    expect(after.map((r) => r.handle)).not.toContain(gone);
    // The repair verified the table: state changes go back to reading only the chains they rewrite.
    expect([await toggleReads('ifdown'), await toggleReads('ifup')]).toContainEqual({ table: 0, chains: 1 });
  });

  it('a device that disappears and returns: down at once, back in service after good rounds', async () => {
    const d = await start();
    // Moving the device out of the gateway's namespace is, for the gateway, the device disappearing.
    await lab.ip('gw', ['link', 'set', 'dev', W2.dev, 'netns', lab.nsName('park')]);
    await d.waitFor('wan2', 'down', 3_000);
    expect(await flows(20)).toMatchObject({ ok: 20, wan2: 0 });
    await lab.ip('park', ['link', 'set', 'dev', W2.dev, 'netns', lab.nsName('gw')]);
    await lab.ip('gw', ['addr', 'add', `${W2.addr}/${W2.len}`, 'dev', W2.dev]);
    await lab.ip('gw', ['link', 'set', 'dev', W2.dev, 'up']);
    await lab.sysctl('gw', { [`net.ipv4.conf.${W2.dev}.rp_filter`]: 0 });
    await lab.ip('gw', ['route', 'replace', 'default', 'via', W2.gateway, 'dev', W2.dev, 'metric', String(W2.metric)]);
    await d.waitFor('wan2', 'online', 5_000);
    expect(d.proc.running).toBe(true);
    expect((await flows(30)).wan2).toBeGreaterThan(0);
  });
});
