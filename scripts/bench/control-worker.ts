// Runs INSIDE a bench namespace (ip netns exec): compile and apply timings for one config, as JSON on stdout.
// Usage: node control-worker.js CONFIG ROUNDS
import { readFileSync } from 'node:fs';
import { compile } from '../../src/compile/compile.js';
import { validateConfig } from '../../src/config/validate.js';
import { apply } from '../../src/engine/apply.js';
import { discover, tableFacts, type IpSnapshot } from '../../src/engine/discover.js';
import { incrementalBatch } from '../../src/compile/incremental.js';
import { applyBatch, listTable } from '../../src/system/nft.js';
import { createRunner } from '../../src/system/runner.js';
import { nftMonitor } from '../../src/system/monitor.js';
import { NftCommits } from '../../src/system/nft-commits.js';

const [file, roundsText] = process.argv.slice(2) as [string, string];
const rounds = Number(roundsText);
const v = validateConfig(JSON.parse(readFileSync(file, 'utf8')));
if (!v.ok) throw new Error(JSON.stringify(v.issues));
const config = v.config;
const run = createRunner();
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const first = Object.keys(config.interfaces)[0] as string;

const { facts } = await discover(run, config);
const compileMs: number[] = [];
for (let i = 0; i < rounds; i++) {
  const t0 = performance.now();
  compile(config, facts, {});
  compileMs.push(performance.now() - t0);
}
// Every apply changes something (the first WAN goes offline, then back: one counter for all loops, so no
// apply repeats the state before it), so each is a transaction with read-back verification, as the daemon
// runs it on a state change: planned against the table its previous apply verified, with nft monitor
// running as in the daemon (the read-back starts once the commit is reported and lists only the chains
// the transaction rewrote, nobody else having committed), and
//   - in `applyMs`, the ip state its previous apply read (nothing changes that here, as ip monitor would
//     tell the daemon);
//   - in `readingApplyMs`, reading the ip state afresh, as the daemon does after ip monitor reports a change;
//   - in `unwatchedApplyMs`, like `applyMs` but without nft monitor: the whole table read back once nft has
//     exited, as the daemon did before it watched commits (and does while nft monitor is not running).
// The three alternate, after a few untimed applies: the daemon is a long-running, warmed-up process.
// The daemon-style and reading applies must find the table vouched for by nft monitor (checked).
const commits = new NftCommits(nftMonitor, (m) => process.stderr.write(`${m}\n`));
commits.start();
const t0 = Date.now();
while (commits.mark() === null) {
  if (Date.now() - t0 > 10_000) throw new Error('nft monitor did not start listening');
  await new Promise((r) => setTimeout(r, 50));
}
let flips = 0;
const nextStates = () => ({ [first]: flips++ % 2 === 0 ? 'offline' : 'online' }) as const;
const applyMs: number[] = [];
const readingApplyMs: number[] = [];
const unwatchedApplyMs: number[] = [];
let known: Record<string, unknown>[] | null = null;
let knownIp: IpSnapshot | null = null;
let knownMark: number | null = null;
// After an unwatched apply, whose commit the monitor counts as someone else's, one untimed watched apply
// reads the table whole, so the daemon-style apply after it finds the table vouched for, as in the daemon.
const KINDS = ['daemon', 'reading', 'unwatched', 'resync'] as const;
for (let i = -8; i < 4 * rounds; i++) {
  const kind = KINDS[((i % 4) + 4) % 4] as (typeof KINDS)[number];
  const watched = kind !== 'unwatched';
  const mark = commits.mark();
  const vouched = watched && commits.unchangedSince(knownMark);
  if (i >= 0 && (kind === 'daemon' || kind === 'reading') && !vouched) throw new Error(`a ${kind} apply found the table not vouched for by nft monitor`);
  const t0 = performance.now();
  const r = await apply(run, config, quiet, nextStates(), {
    known,
    knownIp: kind === 'reading' ? null : knownIp,
    knownIsCurrent: vouched,
    ...(watched ? { watch: commits.watch } : {}),
  });
  const ms = performance.now() - t0;
  known = r.listing;
  knownIp = r.ip;
  knownMark = commits.unchangedSince(mark) ? mark : null;
  if (i < 0 || kind === 'resync') continue;
  if (!r.changed) throw new Error('an apply changed nothing: the timing would not be of a transaction');
  (kind === 'daemon' ? applyMs : kind === 'reading' ? readingApplyMs : unwatchedApplyMs).push(ms);
}
commits.stop();
// The floor under those figures: the processes an apply cannot do without, run bare with the same
// inputs and nothing of nft-mwan's around them: the same transaction and the read-back.
const floorMs: number[] = [];
for (let i = 0; i < rounds; i++) {
  const states = nextStates();
  const current = known ?? (await listTable(run, 'inet', 'nft_mwan')) ?? [];
  const p = compile(config, { ...facts, ...tableFacts(current) }, states);
  const batch = incrementalBatch(p, current) ?? p.nft;
  if (batch.nftables.length === 0) throw new Error('a bare transaction would change nothing');
  const t0 = performance.now();
  await applyBatch(run, batch);
  known = await listTable(run, 'inet', 'nft_mwan');
  floorMs.push(performance.now() - t0);
}
// Counted for a first install: a re-apply's count depends on what it replaces.
const batchCommands = compile(config, { ...facts, installed: { chains: [], sets: [], maps: [] }, installedSets: {} }, {}).nft.nftables.length;
process.stdout.write(`${JSON.stringify({ compileMs, applyMs, readingApplyMs, unwatchedApplyMs, floorMs, batchCommands })}\n`);
