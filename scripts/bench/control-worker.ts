// Runs INSIDE a bench namespace (ip netns exec): compile and apply timings for one config, as JSON on stdout.
// Usage: node control-worker.js CONFIG ROUNDS
import { readFileSync } from 'node:fs';
import { compile } from '../../src/compile/compile.js';
import { validateConfig } from '../../src/config/validate.js';
import { apply } from '../../src/engine/apply.js';
import { discover } from '../../src/engine/discover.js';
import { createRunner } from '../../src/system/runner.js';

const [file, roundsText] = process.argv.slice(2) as [string, string];
const rounds = Number(roundsText);
const v = validateConfig(JSON.parse(readFileSync(file, 'utf8')));
if (!v.ok) throw new Error(JSON.stringify(v.issues));
const config = v.config;
const run = createRunner();
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined };
const first = Object.keys(config.interfaces)[0] as string;

const { facts } = await discover(run, config);
const compileMs: number[] = [];
for (let i = 0; i < rounds; i++) {
  const t0 = performance.now();
  compile(config, facts, {});
  compileMs.push(performance.now() - t0);
}
// Every apply changes something (the first WAN goes offline, then back), so each is a full transaction
// with read-back verification, as the daemon does on a state change.
const applyMs: number[] = [];
for (let i = 0; i < rounds; i++) {
  const t0 = performance.now();
  const r = await apply(run, config, quiet, { [first]: i % 2 === 0 ? 'offline' : 'online' });
  applyMs.push(performance.now() - t0);
  if (!r.changed) throw new Error('an apply changed nothing: the timing would not be of a transaction');
}
// Counted for a first install: a re-apply's count depends on what it replaces.
const batchCommands = compile(config, { ...facts, installed: { chains: [], sets: [], maps: [] }, installedSets: {} }, {}).nft.nftables.length;
process.stdout.write(`${JSON.stringify({ compileMs, applyMs, batchCommands })}\n`);
