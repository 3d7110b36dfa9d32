// Control-plane figures: compile and apply (one verified transaction) for 2/8/32 WANs x 10/100/1000 rules,
// and `nft-mwan apply` end to end (wall time, peak memory) as a user runs it. All in one bench namespace.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lab } from '../../lab/netns.js';

export interface ControlRow {
  wans: number;
  rules: number;
  batchCommands: number;
  /** One median per round (each round runs `perRound` compiles and applies). */
  compileMs: number[];
  /**
   * As the daemon applies a state change: the ip state known (ip monitor quiet since its last read), nft
   * monitor heard no other commit (only the rewritten chains are read back, once the commit is reported).
   */
  applyMs: number[];
  /** The same with the ip state read afresh (one `ip -batch`), as after ip monitor reported a change. */
  readingApplyMs: number[];
  /** The same without nft monitor: the whole table read back once nft has exited. */
  unwatchedApplyMs: number[];
  /** The same nft transaction and a whole-table read-back run bare, one after the other: what an apply through `nft` costs without a monitor. */
  floorMs: number[];
}
export interface EndToEnd {
  wans: number;
  rules: number;
  wallMs: number[];
  peakRssKb: number[];
}

const WORKER = fileURLToPath(new URL('./control-worker.js', import.meta.url));
const NS = 'ctl';

export const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** N WANs wanK (veth pairs inside the namespace), K-th gateway 10.K.0.1; rules pin /32s, then a default. */
export function benchConfig(wans: number, rules: number, weight = 1): unknown {
  const interfaces: Record<string, unknown> = {};
  for (let k = 1; k <= wans; k++) interfaces[`wan${k}`] = { device: `wan${k}`, gateway: `10.${k}.0.1` };
  const names = Object.keys(interfaces);
  const list = [];
  for (let i = 0; i < rules - 1; i++) {
    list.push({ name: `r${i}`, destIp: [`203.0.${112 + Math.floor(i / 250)}.${i % 250}/32`], policy: i % 2 ? 'first' : 'balanced' });
  }
  list.push({ name: 'default', policy: 'balanced' });
  return {
    interfaces,
    policies: {
      balanced: { members: names.map((n, i) => ({ interface: n, weight: i === 0 ? weight : 1 })) },
      first: { members: names.map((n, i) => ({ interface: n, metric: i + 1 })) },
    },
    rules: list,
  };
}

/** WANs wan1..wanN in namespace `ns` (default 'ctl'): veth pairs with both ends inside it. */
export async function prepareControlNamespace(lab: Lab, maxWans: number, ns: string = NS): Promise<void> {
  await lab.addNamespace(ns);
  for (let k = 1; k <= maxWans; k++) {
    await lab.ip(ns, ['link', 'add', `wan${k}`, 'type', 'veth', 'peer', 'name', `wan${k}p`]);
    await lab.ip(ns, ['addr', 'add', `10.${k}.0.2/24`, 'dev', `wan${k}`]);
    await lab.ip(ns, ['link', 'set', `wan${k}`, 'up']);
    await lab.ip(ns, ['link', 'set', `wan${k}p`, 'up']);
  }
}

export async function runControl(
  lab: Lab,
  o: { rounds: number; perRound: number; wans: number[]; rules: number[]; bin: string; log: (l: string) => void },
): Promise<{ rows: ControlRow[]; endToEnd: EndToEnd[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-bench-ctl-'));
  const combos = o.wans.flatMap((w) => o.rules.map((r) => ({ wans: w, rules: r })));
  const rows: ControlRow[] = combos.map((c) => ({ ...c, batchCommands: 0, compileMs: [], applyMs: [], readingApplyMs: [], unwatchedApplyMs: [], floorMs: [] }));
  for (let round = 0; round < o.rounds; round++) {
    // Interleaved, in a rotating order: drift on a shared machine hits every combination alike.
    for (let i = 0; i < rows.length; i++) {
      const row = rows[(i + round) % rows.length] as ControlRow;
      const file = join(dir, `c${row.wans}-${row.rules}.json`);
      writeFileSync(file, JSON.stringify(benchConfig(row.wans, row.rules)));
      const r = await lab.exec(NS, process.execPath, [WORKER, file, String(o.perRound)], { timeoutMs: 300_000 });
      const out = JSON.parse(r.stdout) as {
        compileMs: number[];
        applyMs: number[];
        readingApplyMs: number[];
        unwatchedApplyMs: number[];
        floorMs: number[];
        batchCommands: number;
      };
      row.batchCommands = out.batchCommands;
      row.compileMs.push(median(out.compileMs));
      row.applyMs.push(median(out.applyMs));
      row.readingApplyMs.push(median(out.readingApplyMs));
      row.unwatchedApplyMs.push(median(out.unwatchedApplyMs));
      row.floorMs.push(median(out.floorMs));
      o.log(
        `  control round ${round + 1}: ${row.wans} WANs, ${row.rules} rules: compile ${median(out.compileMs).toFixed(2)} ms, ` +
          `apply ${median(out.applyMs).toFixed(1)} ms (its processes alone ${median(out.floorMs).toFixed(1)} ms; ` +
          `reading the ip state too ${median(out.readingApplyMs).toFixed(1)} ms; ` +
          `without nft monitor ${median(out.unwatchedApplyMs).toFixed(1)} ms)`,
      );
    }
  }
  // End to end: the CLI as a user runs it (process start, config load and validation, discovery, one
  // changed transaction, read-back), timed by GNU time; two configs alternate so each run changes something.
  const endToEnd: EndToEnd[] = [];
  for (const c of [
    { wans: 2, rules: 10 },
    { wans: 8, rules: 1000 },
  ]) {
    const e: EndToEnd = { ...c, wallMs: [], peakRssKb: [] };
    const files = [1, 2].map((w) => {
      const f = join(dir, `e2e-${c.wans}-${c.rules}-${w}.json`);
      writeFileSync(f, JSON.stringify(benchConfig(c.wans, c.rules, w)));
      return f;
    });
    for (let i = 0; i < o.rounds * 3; i++) {
      const r = await lab.exec(NS, '/usr/bin/time', ['-f', '%e %M', o.bin, 'apply', '-q', '--config', files[i % 2] as string], { timeoutMs: 60_000 });
      const m = /([\d.]+) (\d+)\s*$/.exec(r.stderr.trim());
      if (!m) throw new Error(`no GNU time output in: ${r.stderr}`);
      e.wallMs.push(Number(m[1]) * 1000);
      e.peakRssKb.push(Number(m[2]));
    }
    o.log(`  end to end, ${c.wans} WANs, ${c.rules} rules: median ${median(e.wallMs).toFixed(0)} ms, peak RSS ${(median(e.peakRssKb) / 1024).toFixed(1)} MB`);
    endToEnd.push(e);
  }
  await lab.exec(NS, o.bin, ['stop', '--config', join(dir, 'c2-10.json')], { reject: false });
  return { rows, endToEnd };
}
