// `nft-mwan apply` end to end at 3 WANs and 1,000 rules against its floor: a bare `node -e 0` plus `nft -j -f` of
// the very batch `nft-mwan apply --print` prints. Interleaved per round; each apply changes a weight.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lab } from '../../lab/netns.js';
import { benchConfig, median } from './control.js';

export interface ApplyFloorRun {
  wans: number;
  rules: number;
  /** Per NFT_MWAN_NFT value (and `baseline`: another build's bin, in process): wall time of each `nft-mwan apply` (ms). */
  applyMs: Record<string, number[]>;
  /** `node -e 0`, and `nft -j -f` of the printed batch, each timed on its own (ms), one pair per apply round. */
  nodeMs: number[];
  nftMs: number[];
  /** The stages of the same apply timed inside one process (stages-worker), medians per round. */
  stages: Record<string, number[]>;
}

const STAGES = fileURLToPath(new URL('./stages-worker.js', import.meta.url));

/** The printed plan's nft batch alone: what `nft -j -f` takes. */
export function batchOfPrint(printed: string): string {
  const p = JSON.parse(printed) as { nftables?: unknown };
  if (!Array.isArray(p.nftables)) throw new Error('apply --print gave no nftables array');
  return JSON.stringify({ nftables: p.nftables });
}

/** Floor per round (node + nft), and each apply's ratio to its round's floor. */
export function floorRatios(applyMs: readonly number[], nodeMs: readonly number[], nftMs: readonly number[]): number[] {
  return applyMs.map((a, i) => a / ((nodeMs[i] ?? NaN) + (nftMs[i] ?? NaN)));
}

async function wall(lab: Lab, ns: string, file: string, args: string[], env: Record<string, string> = {}): Promise<number> {
  const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const t0 = performance.now();
  await lab.exec(ns, 'env', [...envArgs, file, ...args], { timeoutMs: 60_000 });
  return performance.now() - t0;
}

export async function runApplyFloor(
  lab: Lab,
  ns: string,
  o: { rounds: number; wans: number; rules: number; modes: readonly string[]; bin: string; baseline?: string; log: (l: string) => void },
): Promise<ApplyFloorRun> {
  const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-bench-af-'));
  const files = [1, 2].map((w) => {
    const f = join(dir, `c${w}.json`);
    writeFileSync(f, JSON.stringify(benchConfig(o.wans, o.rules, w)), { mode: 0o600 });
    return f;
  }) as [string, string];
  // The baseline: an earlier build (`--baseline DIR`), timed in the same rounds, nft in process as it would be.
  const labels = [...o.modes, ...(o.baseline ? ['baseline'] : [])];
  const out: ApplyFloorRun = { wans: o.wans, rules: o.rules, applyMs: Object.fromEntries(labels.map((m) => [m, []])), nodeMs: [], nftMs: [], stages: {} };
  let flip = 0;
  const next = () => files[flip++ % 2] as string;
  // Installed once (untimed), so every timed apply changes one weight of a table that is there.
  await lab.exec(ns, o.bin, ['apply', '-q', '--config', next()], { timeoutMs: 60_000 });
  const printed = await lab.exec(ns, o.bin, ['apply', '--print', '--config', files[1]], { timeoutMs: 60_000 });
  const batchFile = join(dir, 'batch.json');
  writeFileSync(batchFile, batchOfPrint(printed.stdout));
  // Both in the same wall-clock way as the apply: `ip netns exec` and `env` around each.
  const floorOnce = async () => {
    out.nodeMs.push(await wall(lab, ns, process.execPath, ['-e', '0']));
    out.nftMs.push(await wall(lab, ns, 'nft', ['-j', '-f', batchFile]));
  };
  for (let round = 0; round < o.rounds; round++) {
    // A rotating order: drift on a shared machine hits every case alike.
    const cases = [...labels.map((m) => ({ mode: m as string | null })), { mode: null }];
    for (let i = 0; i < cases.length; i++) {
      const c = cases[(i + round) % cases.length] as { mode: string | null };
      if (c.mode === null) await floorOnce();
      else if (c.mode === 'baseline')
        (out.applyMs.baseline as number[]).push(await wall(lab, ns, o.baseline as string, ['apply', '-q', '--config', next()], { NFT_MWAN_NFT: 'lib' }));
      else (out.applyMs[c.mode] as number[]).push(await wall(lab, ns, o.bin, ['apply', '-q', '--config', next()], { NFT_MWAN_NFT: c.mode }));
    }
    const s = await lab.exec(ns, process.execPath, [STAGES, files[0], files[1], '3'], { timeoutMs: 120_000 });
    for (const [k, v] of Object.entries(JSON.parse(s.stdout) as Record<string, number[]>)) (out.stages[k] ??= []).push(median(v));
  }
  const floor = median(out.nodeMs) + median(out.nftMs);
  o.log(
    `  apply end to end, ${o.wans} WANs, ${o.rules} rules: ` +
      labels.map((m) => `${m} ${median(out.applyMs[m] ?? []).toFixed(0)} ms`).join(', ') +
      `; floor ${floor.toFixed(0)} ms (node ${median(out.nodeMs).toFixed(0)} + nft ${median(out.nftMs).toFixed(0)})`,
  );
  return out;
}
