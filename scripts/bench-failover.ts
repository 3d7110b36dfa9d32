// Failover benchmark (not a test): how long from an ISP failing upstream until the gateway's rules stop
// sending new connections to it, and from its repair until they use it again. Three tracking settings run
// side by side in one namespace lab; mwan3's default timings are the baseline the others are divided by.
// Everything runs inside namespaces it creates and removes. Usage:
//   node dist/scripts/bench-failover.js [--trials N] [--baseline-trials N] [--json FILE]
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { endpoint, startTcpServer } from '../lab/agents.js';
import { withLab } from '../lab/netns.js';
import { buildMultiWan, LAB_NET } from '../lab/topology.js';
import { runFailover, type Trial } from './bench/failover.js';

const BIN = fileURLToPath(new URL('../../bin/nft-mwan', import.meta.url));
const say = (s: string) => process.stdout.write(`${s}\n`);
const [SRV1, SRV2] = LAB_NET.server.addrs as [string, string];

interface Setting {
  name: string;
  what: string;
  track: Record<string, number>;
  baseline?: true;
}

/** The baseline first: every ratio is against it. */
const SETTINGS: Setting[] = [
  {
    name: 'mwan3-defaults',
    what: "mwan3's defaults: interval 10 s, timeout 4 s, down 5, up 5",
    track: { interval: 10, timeout: 4, down: 5, up: 5 },
    baseline: true,
  },
  { name: 'nft-mwan-defaults', what: "nft-mwan's defaults: interval 2 s, timeout 1 s, down 3, up 3", track: {} },
  { name: 'fast', what: "the issue's fast setting: interval 0.2 s, timeout 0.2 s, down 3, up 3", track: { interval: 0.2, timeout: 0.2, down: 3, up: 3 } },
];

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};
const median = (xs: number[]) => pct(xs, 50);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { trials: { type: 'string', default: '10' }, 'baseline-trials': { type: 'string', default: '2' }, json: { type: 'string' } },
  });
  const trials = Number(values.trials);
  const baselineTrials = Number(values['baseline-trials']);
  await withLab(async (lab) => {
    const net = await buildMultiWan(lab, { wans: 2 });
    await startTcpServer(lab, 'srv', [endpoint(SRV1, 5001), endpoint(SRV2, 5001)]);
    const results: Record<string, Trial[]> = {};
    let holdGap = 0;
    for (const s of SETTINGS) {
      say(`${s.name}: ${s.what}`);
      const r = await runFailover(lab, net, {
        track: s.track,
        trials: s.baseline ? baselineTrials : trials,
        kinds: ['upstream'],
        bin: BIN,
        log: say,
        label: s.name,
        hold: !s.baseline,
      });
      results[s.name] = r.trials.upstream;
      holdGap = Math.max(holdGap, r.holdMaxGapMs ?? 0);
    }
    const base = results[SETTINGS[0]?.name ?? ''] ?? [];
    const baseF = median(base.map((t) => t.failoverMs));
    const baseR = median(base.map((t) => t.recoveryMs));
    say('\nsetting             trials  failover median / p90 / max   recovery median / p90 / max   vs mwan3 defaults (failover, recovery)');
    const rows = SETTINGS.map((s) => {
      const ts = results[s.name] ?? [];
      const f = ts.map((t) => t.failoverMs);
      const r = ts.map((t) => t.recoveryMs);
      const fmt = (xs: number[]) => [median(xs), pct(xs, 90), Math.max(...xs)].map((x) => (x / 1000).toFixed(2)).join(' / ');
      const ratio = `${(median(f) / baseF).toFixed(3)}x, ${(median(r) / baseR).toFixed(3)}x`;
      say(`${s.name.padEnd(19)} ${String(ts.length).padStart(6)}  ${fmt(f).padEnd(28)}  ${fmt(r).padEnd(28)}  ${ratio}`);
      return { setting: s.name, what: s.what, trials: ts, failoverMedianMs: median(f), recoveryMedianMs: median(r) };
    });
    say(`\nlongest pause of a flow on the healthy WAN (echo every 20 ms) through all trials: ${holdGap} ms`);
    if (values.json) writeFileSync(values.json, JSON.stringify({ date: new Date().toISOString(), rows, holdMaxGapMs: holdGap }, null, 2));
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`bench-failover: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
