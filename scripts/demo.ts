// The demo lab: namespaces for a LAN, a gateway, ISPs and a server; nft-mwan applied; traffic; the split printed.
// Everything runs inside namespaces it creates, and everything is removed at the end, also on failure.
import { fileURLToPath } from 'node:url';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab } from '../lab/ns.js';
import { ADDR, buildMultiWan } from '../lab/multiwan.js';

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

async function main(): Promise<void> {
  const lab = new Lab();
  let failed = false;
  try {
    say(`building the lab (namespaces ${lab.prefix}-*): LAN host -> gateway -> isp1, isp2 -> server`);
    const net = await buildMultiWan(lab, { wans: 2 });
    const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-demo-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(config, null, 2));
    say(`config (${file}):\n${JSON.stringify(config, null, 2)}\n`);

    const run = async (...args: string[]) => {
      say(`$ nft-mwan ${args.join(' ')}`);
      const r = await lab.exec(net.gw, BIN, args);
      if (r.stdout.trim()) say(r.stdout.trimEnd());
      if (r.stderr.trim()) say(r.stderr.trimEnd());
      if (r.exitCode !== 0) throw new Error(`nft-mwan ${args[0]} exited ${r.exitCode}`);
    };
    await run('check', '--config', file);
    await run('apply', '--config', file);
    await run('status', '--config', file);

    const [node, serverArgs] = lab.agentArgs('server', [`${ADDR.server[0]}:5001`, `${ADDR.server[1]}:5001`]);
    await lab.spawn(net.srv, node, serverArgs).waitForLine((l) => l === 'ready');
    const connect = async (target: string, n: number) => {
      const [n2, a] = lab.agentArgs('connect', [target, String(n), '20']);
      return JSON.parse(await lab.sh(net.lan, n2, a)) as { ok: number; failed: number; peers: Record<string, number> };
    };
    const n = 1000;
    say(`\nopening ${n} new TCP connections from the LAN host (${ADDR.lan.host}) to ${ADDR.server[0]}:5001 ...`);
    const r = await connect(`${ADDR.server[0]}:5001`, n);
    say('the server saw them arrive from:');
    for (const k of [1, 2]) {
      const w = ADDR.wan(k);
      const got = r.peers[w.gw] ?? 0;
      say(`  wan${k} (${w.gw}): ${String(got).padStart(5)}  ${((got / n) * 100).toFixed(1)}%  (configured ${k === 1 ? '75.0' : '25.0'}%)`);
    }
    say(`  failed: ${r.failed}`);
    const pinned = await connect(`${ADDR.server[1]}:5001`, 50);
    say(`rule docs_via_wan2: 50 connections to ${ADDR.server[1]} -> ${JSON.stringify(pinned.peers)}`);
    await run('stop', '--config', file);
  } catch (e) {
    failed = true;
    say(`demo failed: ${(e as Error).message}`);
    say(await lab.dump());
  } finally {
    await lab.teardown();
    say(`\nlab removed (namespaces ${lab.prefix}-* deleted)`);
  }
  process.exitCode = failed ? 1 : 0;
}

await main();
