// The demo lab: namespaces for a LAN, a gateway, ISPs and a server; nft-mwan applied; traffic; the split printed.
// Everything runs inside namespaces it creates, and everything is removed at the end, also on failure.
import { fileURLToPath } from 'node:url';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { endpoint, runTcpClient, startTcpServer } from '../lab/agents.js';
import { type Lab, listNamespaces, newPrefix, withLab } from '../lab/netns.js';
import { buildMultiWan, LAB_NET } from '../lab/topology.js';

const BIN = fileURLToPath(new URL('../../bin/nft-mwan', import.meta.url));
const say = (s: string) => process.stdout.write(`${s}\n`);

const config = {
  interfaces: {
    wan1: { device: 'wan1', gateway: 'auto' },
    wan2: { device: 'wan2', gateway: 'auto' },
  },
  policies: {
    balanced: { members: [{ interface: 'wan1', weight: 3 }, { interface: 'wan2', weight: 1 }] },
    wan2_only: { members: [{ interface: 'wan2' }] },
  },
  rules: [
    { name: 'docs_via_wan2', destIp: ['192.0.2.20/32'], policy: 'wan2_only' },
    { name: 'default', policy: 'balanced' },
  ],
};

async function demo(lab: Lab): Promise<void> {
  say(`building the lab (namespaces ${lab.prefix}-*): LAN host -> gateway -> isp1, isp2 -> server`);
  await buildMultiWan(lab, { wans: 2 });
  const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-demo-'));
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
  await run('apply', '--config', file);
  await run('status', '--config', file);

  const [srv1, srv2] = LAB_NET.server.addrs;
  await startTcpServer(lab, 'srv', [endpoint(srv1, 5001), endpoint(srv2, 5001)]);
  const connect = (target: string, count: number) =>
    runTcpClient(lab, 'lan', { target, count, concurrency: 20, timeoutMs: 3_000 });
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
  await run('stop', '--config', file);
}

async function main(): Promise<void> {
  // Chosen here so the namespaces can be checked for after withLab has torn the lab down.
  const prefix = newPrefix();
  try {
    // On a failure withLab appends the lab's dump (rulesets, rules, routes, conntrack) to the error.
    await withLab(demo, { prefix });
  } catch (e) {
    process.exitCode = 1;
    say(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  const left = listNamespaces().filter((ns) => ns.startsWith(`${prefix}-`));
  if (left.length > 0) {
    process.exitCode = 1;
    say(`\nlab NOT fully removed, left: ${left.join(' ')}`);
  } else {
    say(`\nlab removed (namespaces ${prefix}-* deleted)`);
  }
}

await main();
