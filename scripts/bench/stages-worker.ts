// Runs INSIDE a bench namespace (ip netns exec): the stages of one `nft-mwan apply` as the CLI runs them, each
// timed on its own, as JSON on stdout. Every run alternates two configs, so each apply is a real transaction.
// Usage: node stages-worker.js CONFIG_A CONFIG_B RUNS
import { loadConfig, configOrThrow } from '../../src/config/load.js';
import { compile } from '../../src/compile/compile.js';
import { incrementalBatch } from '../../src/compile/incremental.js';
import { diffPlan } from '../../src/compile/verify.js';
import { discover } from '../../src/engine/discover.js';
import { applyBatch, listTable } from '../../src/system/nft.js';
import { createRunner } from '../../src/system/runner.js';

export interface StageTimes {
  loadMs: number[];
  discoverMs: number[];
  compileMs: number[];
  incrementalMs: number[];
  transactionMs: number[];
  readBackMs: number[];
  verifyMs: number[];
}

const [a, b, runsText] = process.argv.slice(2) as [string, string, string];
const run = createRunner();
const out: StageTimes = { loadMs: [], discoverMs: [], compileMs: [], incrementalMs: [], transactionMs: [], readBackMs: [], verifyMs: [] };
const time = async <T>(into: number[], f: () => Promise<T> | T): Promise<T> => {
  const t0 = performance.now();
  const r = await f();
  into.push(performance.now() - t0);
  return r;
};
// The first two untimed: JIT and file caches warm, as the CLI's own code is not (its start-up is timed apart).
const runs = Number(runsText);
for (let i = -2; i < runs; i++) {
  const sink: StageTimes = i < 0 ? { loadMs: [], discoverMs: [], compileMs: [], incrementalMs: [], transactionMs: [], readBackMs: [], verifyMs: [] } : out;
  const config = configOrThrow(await time(sink.loadMs, () => loadConfig(i % 2 ? a : b)));
  const d = await time(sink.discoverMs, () => discover(run, config));
  const p = await time(sink.compileMs, () => compile(config, d.facts, {}));
  const batch = await time(sink.incrementalMs, () => (d.listing && incrementalBatch(p, d.listing)) ?? p.nft);
  if (batch.nftables.length === 0) {
    // The first untimed run may find its config installed already (the last apply was of it).
    if (i === -2) continue;
    throw new Error('the apply would change nothing: the configs must differ');
  }
  await time(sink.transactionMs, () => applyBatch(run, batch));
  const listed = await time(sink.readBackMs, () => listTable(run, p.table.family, p.table.name));
  const diff = await time(sink.verifyMs, () => diffPlan(p, listed ?? []));
  if (diff.length > 0) throw new Error(`read back differs: ${diff.slice(0, 3).join('; ')}`);
}
process.stdout.write(`${JSON.stringify(out)}\n`);
