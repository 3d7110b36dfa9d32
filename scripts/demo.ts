// The demo lab: namespaces for a LAN, a gateway, ISPs and a server; nft-mwan applied; traffic; the split printed.
// Everything runs inside namespaces it creates, and everything is removed at the end, also on failure.
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { endpoint, runTcpClient, startTcpServer } from '../lab/agents.js';
import { type Lab, listNamespaces, newPrefix, withLab } from '../lab/netns.js';
import { buildMultiWan, LAB_NET } from '../lab/topology.js';
import { readState } from '../src/daemon/state-file.js';

const BIN = fileURLToPath(new URL('../../bin/nft-mwan', import.meta.url));
const say = (s: string) => process.stdout.write(`${s}\n`);

const config = {
  interfaces: {
    wan1: { device: 'wan1', gateway: 'auto' },
    wan2: { device: 'wan2', gateway: 'auto' },
  },
  policies: {
    balanced: {
      members: [
        { interface: 'wan1', weight: 3 },
        { interface: 'wan2', weight: 1 },
      ],
    },
    wan2_only: { members: [{ interface: 'wan2' }] },
  },
  rules: [
    { name: 'docs_via_wan2', destIp: ['192.0.2.20/32'], policy: 'wan2_only' },
    { name: 'default', policy: 'balanced' },
  ],
};

async function demo(lab: Lab, dir: string): Promise<void> {
  say(`building the lab (namespaces ${lab.prefix}-*): LAN host -> gateway -> isp1, isp2 -> server`);
  const net = await buildMultiWan(lab, { wans: 2 });
  // The demo's own state directory (it is removed with the config at the end), not the system's /run/nft-mwan.
  const stateDir = join(dir, 'state');
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  say(`config (${file}):\n${JSON.stringify(config, null, 2)}\n`);

  const run = async (...args: string[]) => {
    say(`$ nft-mwan ${args.join(' ')}`);
    const r = await lab.exec('gw', BIN, args, { reject: false, timeoutMs: 60_000 });
    if (r.stdout.trim()) say(r.stdout.trimEnd());
    if (r.stderr.trim()) say(r.stderr.trimEnd());
    if (r.exitCode !== 0) throw new Error(`nft-mwan ${args[0]} exited ${r.exitCode}`);
  };
  await run('check', '--config', file);
  await run('apply', '--config', file, '--state-dir', stateDir);
  await run('status', '--config', file, '--state-dir', stateDir);

  const [srv1, srv2] = LAB_NET.server.addrs;
  await startTcpServer(lab, 'srv', [endpoint(srv1, 5001), endpoint(srv2, 5001)]);
  const connect = (target: string, count: number) => runTcpClient(lab, 'lan', { target, count, concurrency: 20, timeoutMs: 3_000 });
  const n = 1000;
  say(`\nopening ${n} new TCP connections from the LAN host (${LAB_NET.lan.addr}) to ${srv1}:5001 ...`);
  const r = await connect(endpoint(srv1, 5001), n);
  say('the server saw them arrive from:');
  for (const k of [1, 2] as const) {
    const w = LAB_NET.wan[k];
    const got = r.peers[w.addr] ?? 0;
    say(`  wan${k} (${w.addr}): ${String(got).padStart(5)}  ${((got / n) * 100).toFixed(1)}%  (configured ${k === 1 ? '75.0' : '25.0'}%)`);
  }
  say(`  failed: ${r.failed}`);
  const pinned = await connect(endpoint(srv2, 5001), 50);
  say(`rule docs_via_wan2: 50 connections to ${srv2} -> ${JSON.stringify(pinned.peers)}`);

  // Failover: the daemon with fast tracking; isp2 starts dropping everything upstream (its link stays up).
  const tracked = {
    ...config,
    interfaces: Object.fromEntries(
      Object.entries(config.interfaces).map(([n, i]) => [n, { ...i, track: { targets: [srv1], interval: 0.2, timeout: 0.2, down: 3, up: 3 } }]),
    ),
  };
  writeFileSync(file, JSON.stringify(tracked, null, 2));
  say(`
$ nft-mwan daemon --config ${file} --state-dir ${stateDir}   (tracking every 0.2 s, 3 failed rounds = offline)`);
  const daemon = lab.spawn('gw', process.execPath, [BIN, 'daemon', '--config', file, '--state-dir', stateDir]);
  const wan2Balanced = async () => (await lab.exec('gw', 'nft', ['-j', 'list', 'chain', 'inet', 'nft_mwan', 'policy_balanced'])).stdout.includes('"mark_wan2"');
  await lab.waitFor(async () => (await readState(stateDir))?.lastApply?.ok === true && (await wan2Balanced()), { timeoutMs: 15_000, what: 'the daemon' });
  say('isp2 now silently drops everything it would forward ...');
  const t0 = performance.now();
  await net.setUpstream(2, 'drop');
  await lab.waitFor(async () => !(await wan2Balanced()), { timeoutMs: 10_000, intervalMs: 10, what: 'failover' });
  say(`  wan2 left the balancing policy ${((performance.now() - t0) / 1000).toFixed(2)} s later`);
  const during = await connect(endpoint(srv1, 5001), 200);
  say(`  200 new connections: ${JSON.stringify(during.peers)}, failed: ${during.failed}`);
  await run('status', '--config', file, '--state-dir', stateDir);
  const t1 = performance.now();
  await net.setUpstream(2, 'up');
  await lab.waitFor(wan2Balanced, { timeoutMs: 10_000, intervalMs: 10, what: 'recovery' });
  say(`isp2 repaired: wan2 back in the policy ${((performance.now() - t1) / 1000).toFixed(2)} s later (3 good rounds)`);
  await daemon.kill(5_000);
  say(
    daemon
      .stderr()
      .split('\n')
      .filter((l) => / -> |hook|deleted/.test(l))
      .map((l) => `  daemon log: ${l}`)
      .join('\n'),
  );
  await run('stop', '--config', file, '--state-dir', stateDir);
}

async function main(): Promise<void> {
  // Chosen here so the namespaces can be checked for after withLab has torn the lab down.
  const prefix = newPrefix();
  const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-demo-'));
  try {
    // On a failure withLab appends the lab's dump (rulesets, rules, routes, conntrack) to the error.
    await withLab((lab) => demo(lab, dir), { prefix });
  } catch (e) {
    process.exitCode = 1;
    say(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  say(`config and state directory ${dir} removed`);
  const left = listNamespaces().filter((ns) => ns.startsWith(`${prefix}-`));
  if (left.length > 0) {
    process.exitCode = 1;
    say(`\nlab NOT fully removed, left: ${left.join(' ')}`);
  } else {
    say(`\nlab removed (namespaces ${prefix}-* deleted)`);
  }
}

await main();
