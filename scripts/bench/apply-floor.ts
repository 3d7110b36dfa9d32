// `nft-mwan apply` end to end at 3 WANs and 1,000 rules against its floor: a bare `node -e 0` plus `nft -j -f` of
// the very batch `nft-mwan apply --print` prints; and the same apply with the daemon running (it reloads). Interleaved
// per round; every timed apply really changes a weight, and its log is checked to say so.
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackgroundProcess, Lab } from '../../lab/netns.js';
import { runningDaemon } from '../../src/cli/live.js';
import { sendControl } from '../../src/daemon/control.js';
import { CONTROL_SOCKET } from '../../src/daemon/state-file.js';
import { benchConfig, median } from './control.js';

export interface ApplyFloorRun {
  wans: number;
  rules: number;
  /**
   * Wall time of each timed `nft-mwan apply` (ms), one per round: per NFT_MWAN_NFT value (`lib`, `cli`); `baseline`
   * (another build's bin, nft in process); `daemon` (the daemon running in a namespace of its own: apply asks it to reload).
   */
  applyMs: Record<string, number[]>;
  /** `node -e 0`, and `nft -j -f` of the printed batch, each timed on its own (ms), one pair per apply round. */
  nodeMs: number[];
  nftMs: number[];
  /** The stages of the same apply timed inside one process (stages-worker), medians per round. */
  stages: Record<string, number[]>;
  /** Environment variables removed (`env -u`) from every timed process: this machine sets them, a router does not. */
  envRemoved: string[];
  /** The environment the daemon was started with (the shipped unit's Environment=). */
  daemonEnv: Record<string, string>;
}

const STAGES = fileURLToPath(new URL('./stages-worker.js', import.meta.url));
/** Set for every process on the bench machine, on no router: Node parses the whole CA bundle at start-up with it. */
export const ENV_REMOVED = ['NODE_EXTRA_CA_CERTS'] as const;
/** The case timed in the daemon's namespace; every other apply case, and the floor, run in the first one. */
export const DAEMON_CASE = 'daemon';
export const FLOOR_CASE = 'floor';
const TIMEOUT_MS = 60_000;

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

/** `env`'s arguments before the command: the variables removed, then those set. The same wrapper for every timed process. */
export function envPrefix(removed: readonly string[], set: Readonly<Record<string, string>> = {}): string[] {
  return [...removed.flatMap((k) => ['-u', k]), ...Object.entries(set).map(([k, v]) => `${k}=${v}`)];
}

/** Which of the two configs (c1, c2) a namespace's table holds. */
export type Held = 0 | 1;
export interface Step {
  label: string;
  /** An apply: the config it installs (always the other one than the table held). The floor: the batch it installs (the held one's). */
  config: Held;
}

/**
 * One round in its rotating order (drift on a shared machine hits every case alike), each step with its config, and what
 * each namespace's table holds after it. The floor re-installs the held config's batch, so the apply after it still
 * changes a weight; an apply always installs the other config.
 */
export function roundSteps(labels: readonly string[], round: number, held: { ctl: Held; daemon: Held }): { steps: Step[]; held: { ctl: Held; daemon: Held } } {
  const cases = [...labels, FLOOR_CASE];
  const now = { ...held };
  const steps = cases.map((_, i): Step => {
    const label = cases[(i + round) % cases.length] as string;
    if (label === FLOOR_CASE) return { label, config: now.ctl };
    const where = label === DAEMON_CASE ? 'daemon' : 'ctl';
    now[where] = now[where] === 0 ? 1 : 0;
    return { label, config: now[where] };
  });
  return { steps, held: now };
}

/** Why an apply's log (stderr at info level) shows no change installed, or null: it committed and verified one. */
export function applyLogProblem(stderr: string): string | null {
  if (stderr.includes('already up to date')) return 'it found the table already at its plan ("already up to date"): a no-op, not an apply';
  if (!stderr.includes('applied:')) return 'its log has no "applied:" line';
  return null;
}

/** The same for an apply with the daemon running: the CLI says the daemon reloaded, and the daemon's log since shows a change installed. */
export function daemonApplyProblem(cliStderr: string, daemonLogSince: string): string | null {
  if (!/the daemon \(pid \d+\) reloaded .* and applied it/.test(cliStderr)) return 'apply did not report that the daemon reloaded';
  const p = applyLogProblem(daemonLogSince);
  return p === null ? null : `the daemon's log: ${p}`;
}

/** One timed command: `env -u ... K=V file args` inside the namespace, as every case (and the floor) is run. */
async function wall(lab: Lab, ns: string, file: string, args: string[], set: Record<string, string> = {}): Promise<{ ms: number; stderr: string }> {
  const prefix = envPrefix(ENV_REMOVED, set);
  const t0 = performance.now();
  const r = await lab.exec(ns, 'env', [...prefix, file, ...args], { timeoutMs: TIMEOUT_MS });
  return { ms: performance.now() - t0, stderr: r.stderr };
}

function checked(label: string, round: number, problem: string | null, stderr: string): void {
  if (problem !== null) throw new Error(`apply bench: round ${round + 1}, ${label}: ${problem}; its stderr:\n${stderr.slice(-2000)}`);
}

/** Starts the daemon on `file` and waits (bounded) until `apply` would find it and its socket answers. */
async function startDaemon(lab: Lab, ns: string, o: { bin: string; file: string; stateDir: string; env: Record<string, string> }): Promise<BackgroundProcess> {
  const d = lab.spawn(ns, 'env', [...envPrefix(ENV_REMOVED, o.env), process.execPath, o.bin, 'daemon', '--config', o.file, '--state-dir', o.stateDir]);
  const socket = join(o.stateDir, CONTROL_SOCKET);
  // An ifup of an online WAN changes nothing: it only shows the socket answers.
  await lab
    .waitFor(
      async () => {
        if (!d.running) throw new Error('exited');
        return (
          d.stderr().includes('states applied in') &&
          (await runningDaemon(o.stateDir)) !== null &&
          (await sendControl(socket, { command: 'ifup', interface: 'wan1' })).ok
        );
      },
      { timeoutMs: 60_000, intervalMs: 200, what: 'the daemon to apply its config and answer on its socket' },
    )
    .catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\nthe daemon (${d.running ? 'running' : 'exited'}):\n${d.stderr().slice(-3000)}`);
    });
  return d;
}

export async function runApplyFloor(
  lab: Lab,
  ns: string,
  o: {
    rounds: number;
    wans: number;
    rules: number;
    modes: readonly string[];
    bin: string;
    baseline?: string;
    /** A second namespace with the same WANs, for the daemon case. */
    daemonNs: string;
    daemonEnv: Record<string, string>;
    log: (l: string) => void;
  },
): Promise<ApplyFloorRun> {
  const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-bench-af-'));
  const configs = [1, 2].map((w) => JSON.stringify(benchConfig(o.wans, o.rules, w)));
  const files = configs.map((text, i) => {
    const f = join(dir, `c${i + 1}.json`);
    writeFileSync(f, text, { mode: 0o600 });
    return f;
  }) as [string, string];
  // The baseline: an earlier build (`--baseline DIR`), timed in the same rounds, nft in process as it would be.
  const labels = [...o.modes, ...(o.baseline ? ['baseline'] : []), DAEMON_CASE];
  const out: ApplyFloorRun = {
    wans: o.wans,
    rules: o.rules,
    applyMs: Object.fromEntries(labels.map((m) => [m, []])),
    nodeMs: [],
    nftMs: [],
    stages: {},
    envRemoved: [...ENV_REMOVED],
    daemonEnv: o.daemonEnv,
  };
  // The baseline's V8 code cache in a directory of its own: two builds sharing one would each remove the other's
  // cache whenever they write theirs (bin/nft-mwan keeps one bundle's), and both would then run uncached.
  const baselineEnv = { NFT_MWAN_NFT: 'lib', NFT_MWAN_CODE_CACHE: join(dir, 'baseline-code-cache') };
  // Untimed: c1 installed (by the baseline first, so that its cache is made by an apply that changes the table),
  // then both printed batches (the floor re-installs the one the table holds).
  if (o.baseline)
    await lab.exec(ns, 'env', [...envPrefix(ENV_REMOVED, baselineEnv), o.baseline, 'apply', '-q', '--config', files[1]], {
      timeoutMs: TIMEOUT_MS,
    });
  await lab.exec(ns, o.bin, ['apply', '-q', '--config', files[0]], { timeoutMs: TIMEOUT_MS });
  const batchFiles = [] as string[];
  for (const [i, f] of files.entries()) {
    const printed = await lab.exec(ns, o.bin, ['apply', '--print', '--config', f], { timeoutMs: TIMEOUT_MS });
    batchFiles.push(join(dir, `batch${i + 1}.json`));
    writeFileSync(batchFiles[i] as string, batchOfPrint(printed.stdout));
  }
  // The daemon's config file: rewritten whole (temp + rename) before each of its applies, as an editor saves it.
  const daemonFile = join(dir, 'daemon.json');
  writeFileSync(daemonFile, configs[0] as string, { mode: 0o600 });
  const daemon = await startDaemon(lab, o.daemonNs, { bin: o.bin, file: daemonFile, stateDir: join(dir, 'state'), env: o.daemonEnv });
  let held: { ctl: Held; daemon: Held } = { ctl: 0, daemon: 0 };
  try {
    for (let round = 0; round < o.rounds; round++) {
      const r = roundSteps(labels, round, held);
      for (const s of r.steps) {
        if (!daemon.running) throw new Error(`the daemon exited early:\n${daemon.stderr().slice(-3000)}`);
        if (s.label === FLOOR_CASE) {
          // Both in the same wall-clock way as the apply: `ip netns exec` and the same `env` around each.
          out.nodeMs.push((await wall(lab, ns, process.execPath, ['-e', '0'])).ms);
          out.nftMs.push((await wall(lab, ns, 'nft', ['-j', '-f', batchFiles[s.config] as string])).ms);
        } else if (s.label === DAEMON_CASE) {
          const tmp = `${daemonFile}.tmp`;
          writeFileSync(tmp, configs[s.config] as string, { mode: 0o600 });
          renameSync(tmp, daemonFile);
          const logFrom = daemon.stderr().length;
          const t = await wall(lab, o.daemonNs, o.bin, ['apply', '--config', daemonFile, '--state-dir', join(dir, 'state')]);
          // The daemon logged its apply before it replied; the pipe may still be on its way here.
          await lab
            .waitFor(() => /applied:|already up to date/.test(daemon.stderr().slice(logFrom)), { timeoutMs: 5_000, what: "the daemon's apply in its log" })
            .catch(() => undefined);
          checked(
            s.label,
            round,
            daemonApplyProblem(t.stderr, daemon.stderr().slice(logFrom)),
            `${t.stderr}\nthe daemon's:\n${daemon.stderr().slice(logFrom)}`,
          );
          out.applyMs[DAEMON_CASE]?.push(t.ms);
        } else {
          const bin = s.label === 'baseline' ? (o.baseline as string) : o.bin;
          const t = await wall(lab, ns, bin, ['apply', '--config', files[s.config]], s.label === 'baseline' ? baselineEnv : { NFT_MWAN_NFT: s.label });
          checked(s.label, round, applyLogProblem(t.stderr), t.stderr);
          out.applyMs[s.label]?.push(t.ms);
        }
      }
      held = r.held;
      // The worker alternates its two files and, for an odd number of runs, ends on the second: the held one stays.
      const other = held.ctl === 0 ? 1 : 0;
      const s = await lab.exec(ns, process.execPath, [STAGES, files[other], files[held.ctl], '3'], { timeoutMs: 120_000 });
      for (const [k, v] of Object.entries(JSON.parse(s.stdout) as Record<string, number[]>)) (out.stages[k] ??= []).push(median(v));
    }
  } finally {
    await daemon.kill(5_000);
  }
  const floor = median(out.nodeMs) + median(out.nftMs);
  o.log(
    `  apply end to end, ${o.wans} WANs, ${o.rules} rules (without ${ENV_REMOVED.join(', ')}): ` +
      labels.map((m) => `${m} ${median(out.applyMs[m] ?? []).toFixed(0)} ms`).join(', ') +
      `; floor ${floor.toFixed(0)} ms (node ${median(out.nodeMs).toFixed(0)} + nft ${median(out.nftMs).toFixed(0)})`,
  );
  return out;
}
