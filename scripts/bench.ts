// `npm run bench`: every benchmark in one go, in namespace labs it builds and removes; prints markdown
// tables and writes the raw figures as JSON. Repeated, interleaved measurements; medians and ratios.
// Usage: node dist/scripts/bench.js [--only control,apply,daemon,dataplane,ablation,balance,failover,footprint] [--rounds N] [--json FILE] [--quick]
//   [--baseline DIR]  (apply: also time DIR/bin/nft-mwan, another build, in the same rounds)
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { endpoint, startTcpServer } from '../lab/agents.js';
import { withLab } from '../lab/netns.js';
import { buildMultiWan, LAB_NET } from '../lab/topology.js';
import { runBalance, type BalanceRow } from './bench/balance.js';
import { median, runControl, prepareControlNamespace } from './bench/control.js';
import { runFailover, type Trial } from './bench/failover.js';
import { runFootprint, type Footprint } from './bench/footprint.js';

const BIN = fileURLToPath(new URL('../../bin/nft-mwan', import.meta.url));
const say = (s: string) => process.stdout.write(`${s}\n`);
const SECTIONS = ['control', 'apply', 'daemon', 'dataplane', 'ablation', 'balance', 'failover', 'footprint'] as const;
type Section = (typeof SECTIONS)[number];

/** The libnftables branch's switch (ignored before it): both ways, side by side. */
const NFT_MODES = ['lib', 'cli'] as const;

const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');
const pct90 = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(0.9 * xs.length))] ?? NaN;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      rounds: { type: 'string' },
      json: { type: 'string', default: 'bench-results.json' },
      quick: { type: 'boolean' },
      // apply: another build (a checkout with its own npm ci) whose bin/nft-mwan is timed in the same rounds.
      baseline: { type: 'string' },
    },
  });
  const quick = values.quick === true;
  const rounds = Number(values.rounds ?? (quick ? 2 : 5));
  const only = new Set<Section>((values.only?.split(',') as Section[] | undefined) ?? SECTIONS);
  const results: Record<string, unknown> = { date: new Date().toISOString(), rounds, quick };
  const tables: string[] = [];

  if (only.has('control')) {
    say('control plane ...');
    await withLab(async (lab) => {
      await prepareControlNamespace(lab, 32);
      const c = await runControl(lab, { rounds, perRound: quick ? 3 : 7, wans: [2, 8, 32], rules: [10, 100, 1000], bin: BIN, log: say });
      results.control = c;
      tables.push(
        '### Control plane (median of per-round medians)',
        '',
        '| WANs | rules | batch commands (first install) | compile (ms) | ' +
          'apply on a state change (daemon): compile + one nft transaction + read-back verify (ms) | ' +
          'the same without nft monitor: whole table read back after nft exits (ms) | ' +
          'bare processes: the nft transaction, then nft list table (ms) | apply / bare processes | apply reading the ip state too (ms) |',
        '|---|---|---|---|---|---|---|---|---|',
        ...c.rows.map(
          (r) =>
            `| ${r.wans} | ${r.rules} | ${r.batchCommands} | ${fmt(median(r.compileMs), 2)} | ${fmt(median(r.applyMs))} | ` +
            `${fmt(median(r.unwatchedApplyMs))} | ${fmt(median(r.floorMs))} | ` +
            `${fmt(median(r.applyMs.map((a, i) => a / (r.floorMs[i] ?? NaN))), 2)} | ${fmt(median(r.readingApplyMs))} |`,
        ),
        '',
        '| `nft-mwan apply` end to end | wall median (ms) | wall p90 (ms) | peak RSS median (MB) |',
        '|---|---|---|---|',
        ...c.endToEnd.map(
          (e) => `| ${e.wans} WANs, ${e.rules} rules | ${fmt(median(e.wallMs), 0)} | ${fmt(pct90(e.wallMs), 0)} | ${fmt(median(e.peakRssKb) / 1024)} |`,
        ),
        '',
      );
    });
  }

  if (only.has('apply')) {
    say('apply end to end against its floor ...');
    const { DAEMON_CASE, floorRatios, runApplyFloor } = (await import('./bench/apply-floor.js')) as typeof import('./bench/apply-floor.js');
    const { unitEnvironment } = (await import('./bench/statechange.js')) as typeof import('./bench/statechange.js');
    await withLab(async (lab) => {
      await prepareControlNamespace(lab, 3);
      // The daemon case in a namespace of its own: its table, its state, its apply lock.
      await prepareControlNamespace(lab, 3, 'dmn');
      const baseline = values.baseline === undefined ? undefined : join(resolve(values.baseline), 'bin/nft-mwan');
      // The daemon started as the shipped unit starts it (its Environment=).
      const daemonEnv = unitEnvironment(readFileSync(fileURLToPath(new URL('../../contrib/nft-mwan.service', import.meta.url)), 'utf8'));
      const a = await runApplyFloor(lab, 'ctl', {
        rounds: quick ? 4 : 3 * rounds,
        wans: 3,
        rules: 1000,
        modes: NFT_MODES,
        bin: BIN,
        baseline,
        daemonNs: 'dmn',
        daemonEnv,
        log: say,
      });
      results.apply = a;
      const floor = median(a.nodeMs) + median(a.nftMs);
      const caseName = (m: string) =>
        m === DAEMON_CASE ? 'daemon running (apply asks it to reload)' : m === 'baseline' ? 'baseline (NFT_MWAN_NFT=lib)' : `NFT_MWAN_NFT=${m}`;
      tables.push(
        '### `nft-mwan apply` end to end against its floor (3 WANs, 1,000 rules, each apply changing one weight, ' +
          `every timed process run without ${a.envRemoved.join(', ')})`,
        '',
        `Floor: \`node -e 0\` ${fmt(median(a.nodeMs), 0)} ms + \`nft -j -f\` of the printed batch ${fmt(median(a.nftMs), 0)} ms = ${fmt(floor, 0)} ms (medians).`,
        '',
        '| case | runs | wall median (ms) | p90 (ms) | / floor (medians) | / floor (median of per-round ratios) |',
        '|---|---|---|---|---|---|',
        ...Object.keys(a.applyMs).map((m) => {
          const xs = a.applyMs[m] ?? [];
          return `| ${caseName(m)} | ${xs.length} | ${fmt(median(xs), 0)} | ${fmt(pct90(xs), 0)} | ${fmt(median(xs) / floor, 2)} | ${fmt(median(floorRatios(xs, a.nodeMs, a.nftMs)), 2)} |`;
        }),
        '',
        '| stage (inside one warm process, medians of per-round medians) | ms |',
        '|---|---|',
        ...Object.entries(a.stages).map(([k, v]) => `| ${k.replace(/Ms$/, '')} | ${fmt(median(v), 2)} |`),
        '',
      );
    });
  }

  if (only.has('daemon')) {
    say('daemon state changes ...');
    const { runStateChanges, unitEnvironment } = (await import('./bench/statechange.js')) as typeof import('./bench/statechange.js');
    // As the shipped systemd unit starts it (its Environment=: NODE_OPTIONS, MALLOC_ARENA_MAX), and as started by hand without it.
    const asUnit = unitEnvironment(readFileSync(fileURLToPath(new URL('../../contrib/nft-mwan.service', import.meta.url)), 'utf8'));
    const unitOptions = Object.entries(asUnit)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const cases: { rules: number; nft: string; env: Record<string, string>; started: string }[] = [
      ...[10, 1000].flatMap((rules) => NFT_MODES.map((nft) => ({ rules, nft, env: { ...asUnit, NFT_MWAN_NFT: nft }, started: 'unit' }))),
      ...NFT_MODES.map((nft) => ({ rules: 1000, nft, env: { NFT_MWAN_NFT: nft }, started: 'by hand' })),
    ];
    await withLab(async (lab) => {
      await prepareControlNamespace(lab, 3);
      const runs = [];
      for (const c of cases) {
        const r = await runStateChanges(lab, 'ctl', {
          wans: 3,
          rules: c.rules,
          changes: quick ? 60 : 300,
          sampleEvery: quick ? 20 : 50,
          bin: BIN,
          env: c.env,
          log: say,
        });
        runs.push({ nft: c.nft, started: c.started, env: c.env, ...r });
      }
      results.daemon = runs;
      tables.push(
        `### Daemon state changes (3 WANs; operator ifdown/ifup of one WAN, one at a time; unit: ${unitOptions || 'no environment'})`,
        '',
        '| started | NFT_MWAN_NFT | rules | state changes | decision to verified table, median (ms) | p90 (ms) | RSS after the first apply (MB) | RSS after the last change (MB) | RSS samples (MB) |',
        '|---|---|---|---|---|---|---|---|---|',
        ...runs.map(
          (r) =>
            `| ${r.started} | ${r.nft} | ${r.rules} | ${r.changes} | ${fmt(median(r.decisionToVerifiedMs))} | ${fmt(pct90(r.decisionToVerifiedMs))} | ` +
            `${fmt(r.rssMb[0] ?? NaN)} | ${fmt(r.rssMb[r.rssMb.length - 1] ?? NaN)} | ${r.rssMb.map((m) => m.toFixed(0)).join(' ')} |`,
        ),
        '',
      );
    });
  }

  if (only.has('dataplane')) {
    say('data plane ...');
    const { costSummaries, ecmpRatios, runDataplane } = (await import('./bench/dataplane.js')) as typeof import('./bench/dataplane.js');
    const { PART_LABELS, PROFILE_PARTS } = (await import('./bench/profile.js')) as typeof import('./bench/profile.js');
    await withLab(async (lab) => {
      const net = await buildMultiWan(lab, { wans: 3 });
      const rows = await runDataplane(lab, net, { rounds, seconds: quick ? 3 : 5, ruleCounts: [0, 200, 1000], log: say, bin: BIN });
      results.dataplane = rows;
      const ecmp = rows.find((r) => r.setup === 'ecmp');
      const ratio = (xs: number[], base: number[] | undefined) => (base ? median(xs) / median(base) : NaN);
      // Run by run, each against the mean of the ECMP runs just before and after it, then the median.
      const paired = ecmpRatios(rows);
      tables.push(
        '### Data plane, 3 WANs (medians; ratios to kernel ECMP in the same runs)',
        '',
        '| setup | user rules | NEW connections/s | vs ECMP (medians) | ' +
          'vs ECMP (median of ratios to the ECMP runs around each run) | single-stream TCP (Mbit/s) | vs ECMP (ratios to the runs around) |',
        '|---|---|---|---|---|---|---|',
        ...rows.map(
          (r, i) =>
            `| ${r.setup} | ${r.setup === 'ecmp' ? '-' : r.rules} | ${fmt(median(r.newConnPps), 0)} | ${fmt(ratio(r.newConnPps, ecmp?.newConnPps), 3)} | ` +
            `${fmt(median(paired[i]?.newConnPps ?? []), 3)} | ${fmt(median(r.throughputMbps), 0)} | ${fmt(median(paired[i]?.throughputMbps ?? []), 3)} |`,
        ),
        '',
      );
      const costs = costSummaries(rows);
      if (costs.length) {
        const signed = (x: number) => `${x >= 0 ? '+' : ''}${fmt(x, 2)}`;
        tables.push(
          '#### Where the time goes: CPU per NEW-connection packet under `perf record -e cpu-clock` (one extra burst per run; medians)',
          '',
          `| setup | user rules | CPU per packet (µs) | vs ECMP | extra over ECMP (µs) | ${PROFILE_PARTS.map((p) => PART_LABELS[p]).join(' | ')} |`,
          `|---|---|---|---|---|${PROFILE_PARTS.map(() => '---').join('|')}|`,
          ...costs.map(
            (c) =>
              `| ${c.setup} | ${c.setup === 'ecmp' ? '-' : c.rules} | ${fmt(c.totalUs, 2)} | ${fmt(c.vsEcmp, 3)} | ` +
              `${c.setup === 'ecmp' ? '-' : signed(c.extraTotalUs)} | ` +
              `${PROFILE_PARTS.map((p) => (c.setup === 'ecmp' ? '-' : signed(c.extraUs[p]))).join(' | ')} |`,
          ),
          '',
        );
      }
    });
  }

  if (only.has('ablation')) {
    say('ablation: what each part of the packet path costs ...');
    const { runAblation, summarise } = (await import('./bench/ablation.js')) as typeof import('./bench/ablation.js');
    await withLab(async (lab) => {
      const net = await buildMultiWan(lab, { wans: 3 });
      // Twice the rounds: the parts differ by tenths of a microsecond.
      const rows = await runAblation(lab, net, { rounds: 2 * rounds, seconds: quick ? 1 : 2, log: say, bin: BIN });
      const summary = summarise(rows);
      results.ablation = { rows, summary };
      const signed = (x: number | undefined) => (x === undefined ? '-' : `${x >= 0 ? '+' : ''}${fmt(x, 2)}`);
      tables.push(
        `### What each part of nft-mwan's NEW-connection path costs (3 WANs, no user rules; ` +
          `${2 * rounds} rounds, each variant against the complete table in the same round; medians)`,
        '',
        '| variant | NEW connections/s vs complete | filter chains, CPU per packet (µs) | chains vs complete (µs) | whole path vs complete (µs) |',
        '|---|---|---|---|---|',
        ...summary.map(
          (r) =>
            `| ${r.name} | ${fmt(r.ppsVsComplete, 3)} | ${r.chainsUs === undefined ? '-' : fmt(r.chainsUs, 2)} | ` +
            `${signed(r.chainsVsCompleteUs)} | ${signed(r.totalVsCompleteUs)} |`,
        ),
        '',
      );
    });
  }

  if (only.has('balance') || only.has('failover') || only.has('footprint')) {
    await withLab(async (lab) => {
      const net = await buildMultiWan(lab, { wans: 4 });
      await startTcpServer(
        lab,
        'srv',
        LAB_NET.server.addrs.map((a) => endpoint(a, 5001)),
      );
      if (only.has('balance')) {
        say('balance accuracy ...');
        const rows: BalanceRow[] = await runBalance(lab, { connections: quick ? 2_000 : 10_000, sources: 150, bin: BIN, log: say });
        results.balance = rows;
        tables.push(
          '### Balance accuracy',
          '',
          '| mode | weights | counted | observed | expected | max deviation (binomial sd) | failed |',
          '|---|---|---|---|---|---|---|',
          ...rows.map((r) => {
            const sum = r.weights.reduce((a, b) => a + b, 0);
            return (
              `| ${r.mode} | ${r.weights.join(':')} | ${r.total} ${r.unit} | ${r.observed.join(' / ')} | ` +
              `${r.weights.map((w) => ((r.total * w) / sum).toFixed(0)).join(' / ')} | ${r.exact ? 'exact' : fmt(r.maxZ, 2)} | ${r.failed} |`
            );
          }),
          '',
        );
      }
      if (only.has('failover')) {
        say('failover ...');
        const track = { interval: 0.2, timeout: 0.2, down: 3, up: 3 };
        const f = await runFailover(lab, net, { track, trials: quick ? 3 : 10, kinds: ['upstream', 'carrier'], bin: BIN, log: say, label: 'fast' });
        results.failover = { track, ...f };
        const line = (kind: string, ts: Trial[]) => {
          const fo = ts.map((t) => t.failoverMs / 1000);
          const re = ts.map((t) => t.recoveryMs / 1000);
          return (
            `| ${kind} | ${ts.length} | ${fmt(median(fo), 2)} / ${fmt(pct90(fo), 2)} / ${fmt(Math.max(...fo), 2)} | ` +
            `${fmt(median(re), 2)} / ${fmt(pct90(re), 2)} / ${fmt(Math.max(...re), 2)} |`
          );
        };
        tables.push(
          '### Failover and recovery (interval 0.2 s, timeout 0.2 s, down 3, up 3)',
          '',
          '| failure | trials | failover median / p90 / max (s) | recovery median / p90 / max (s) |',
          '|---|---|---|---|',
          line('ISP drops everything upstream (link up)', f.trials.upstream),
          line('carrier down on the WAN link', f.trials.carrier),
          '',
          `A flow on the healthy WAN (an echo every 20 ms) never paused longer than ${f.holdMaxGapMs} ms.`,
          '',
        );
      }
      if (only.has('footprint')) {
        say('daemon footprint ...');
        const fp: Footprint = await runFootprint(lab, { seconds: quick ? 10 : 30, bin: BIN, log: say });
        results.footprint = fp;
        tables.push(
          '### Daemon footprint (4 WANs tracked with ping at interval 1 s)',
          '',
          '| resident memory (MB) | peak (MB) | CPU, daemon (% of a core) | CPU, its probe processes (% of a core) |',
          '|---|---|---|---|',
          `| ${fmt(fp.rssMb)} | ${fmt(fp.peakRssMb)} | ${fmt(fp.cpuSelfPct, 2)} | ${fmt(fp.cpuChildrenPct, 2)} |`,
          '',
        );
      }
    });
  }

  say(`\n${tables.join('\n')}`);
  writeFileSync(values.json as string, `${JSON.stringify(results, null, 2)}\n`);
  say(`raw figures: ${values.json}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
