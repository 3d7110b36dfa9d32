// Balance accuracy: observed shares of 10,000 NEW connections against the configured weights, per mode.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { endpoint, runTcpClient, startTcpServer } from '../../lab/agents.js';
import type { Lab } from '../../lab/netns.js';
import { LAB_NET } from '../../lab/topology.js';

const SRV1 = LAB_NET.server.addrs[0];

export interface BalanceRow {
  mode: 'random' | 'roundrobin' | 'srchash';
  weights: number[];
  /** What was counted: connections (random, roundrobin) or distinct sources (srchash). */
  unit: 'connections' | 'sources';
  total: number;
  observed: number[];
  /** Connections that failed (they count for no WAN). */
  failed: number;
  /** Largest |observed - expected| in standard deviations of the binomial (0 when exact). */
  maxZ: number;
  exact: boolean;
}

export async function runBalance(lab: Lab, o: { connections: number; sources: number; bin: string; log: (l: string) => void }): Promise<BalanceRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-bench-bal-'));
  const rows: BalanceRow[] = [];
  // Extra LAN sources for the source-hash runs (only in the lab's LAN namespace).
  for (let i = 0; i < o.sources; i++) await lab.ip('lan', ['addr', 'add', `192.168.10.${100 + (i % 150)}/24`, 'dev', 'eth0'], { reject: false });
  const sources = Array.from({ length: Math.min(o.sources, 150) }, (_, i) => `192.168.10.${100 + i}`);
  // A fresh server port for every run: 10,000 connections leave as many TIME_WAIT entries on the LAN
  // host's ~28,000 ephemeral ports towards one server port, and the next run would run out of them.
  const ports = Array.from({ length: 6 }, (_, i) => 5101 + i);
  await startTcpServer(
    lab,
    'srv',
    ports.map((p) => endpoint(SRV1, p)),
  );
  let run = 0;
  for (const weights of [
    [3, 1],
    [1, 1, 2],
  ]) {
    for (const mode of ['random', 'roundrobin', 'srchash'] as const) {
      const wans = weights.map((_, i) => `wan${i + 1}`);
      const config = {
        interfaces: Object.fromEntries([1, 2, 3].map((k) => [`wan${k}`, { device: `wan${k}`, gateway: 'auto' }])),
        policies: { p: { mode, members: wans.map((w, i) => ({ interface: w, weight: weights[i] })) } },
        rules: [{ name: 'all', policy: 'p' }],
      };
      const file = join(dir, `${mode}-${weights.join('-')}.json`);
      writeFileSync(file, JSON.stringify(config));
      await lab.exec('gw', o.bin, ['apply', '-q', '--config', file]);
      // Every run from an empty conntrack table: no NAT mapping of an earlier run is in the way.
      await lab.exec('gw', 'conntrack', ['-F'], { reject: false });
      const port = ports[run++ % ports.length] as number;
      let failed = 0;
      const addrOf = (k: number) => LAB_NET.wan[k as 1 | 2 | 3].addr;
      let observed: number[];
      let total: number;
      if (mode === 'srchash') {
        // One connection per source: the share of sources each WAN gets.
        observed = weights.map(() => 0);
        for (let i = 0; i < sources.length; i += 25) {
          const batch = sources.slice(i, i + 25);
          const results = await Promise.all(
            batch.map((s) => runTcpClient(lab, 'lan', { target: endpoint(SRV1, port), count: 1, source: s, timeoutMs: 3_000 })),
          );
          for (const r of results) {
            failed += r.failed;
            weights.forEach((_, k) => ((observed[k] as number) += r.peers[addrOf(k + 1)] ?? 0));
          }
        }
        total = sources.length;
      } else {
        const r = await runTcpClient(lab, 'lan', { target: endpoint(SRV1, port), count: o.connections, concurrency: 50, timeoutMs: 5_000 });
        observed = weights.map((_, k) => r.peers[addrOf(k + 1)] ?? 0);
        failed = r.failed;
        total = o.connections;
      }
      const sum = weights.reduce((a, b) => a + b, 0);
      const expected = weights.map((w) => (total * w) / sum);
      const z = observed.map((n, k) => {
        const p = (weights[k] as number) / sum;
        const sd = Math.sqrt(total * p * (1 - p));
        return Math.abs(n - (expected[k] as number)) / sd;
      });
      const row: BalanceRow = {
        mode,
        weights,
        unit: mode === 'srchash' ? 'sources' : 'connections',
        total,
        observed,
        failed,
        maxZ: Math.max(...z),
        exact: observed.every((n, k) => n === expected[k]),
      };
      rows.push(row);
      o.log(
        `  balance ${mode} ${weights.join(':')}: ` +
          `${observed.join(' / ')} of ${total} ${row.unit} (expected ${expected.map((e) => e.toFixed(0)).join(' / ')}), ` +
          `max z ${row.maxZ.toFixed(2)}${row.exact ? ', exact' : ''}, failed ${failed}`,
      );
      await lab.exec('gw', o.bin, ['stop', '--config', file], { reject: false });
    }
  }
  return rows;
}
