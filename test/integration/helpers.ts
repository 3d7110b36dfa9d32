// What integration tests need beyond the lab: nft-mwan run in the gateway, config files, state snapshots, conntrack marks.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecResult, Lab } from '../../lab/netns.js';

export const BIN = new URL('../../bin/nft-mwan', import.meta.url).pathname;

export function configFile(config: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-test-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** Runs `nft-mwan ARGS` inside namespace `ns` (short name); a non-zero exit is returned, not thrown. */
export function cli(lab: Lab, ns: string, ...args: string[]): Promise<ExecResult> {
  return lab.exec(ns, BIN, args, { timeoutMs: 60_000, reject: false });
}

export async function cliOk(lab: Lab, ns: string, ...args: string[]): Promise<string> {
  const r = await cli(lab, ns, ...args);
  if (r.exitCode !== 0) throw new Error(`nft-mwan ${args.join(' ')} exited ${r.exitCode}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Everything in a namespace's network state that apply/stop could change, as text. */
export async function snapshot(lab: Lab, ns: string): Promise<string> {
  const parts = await Promise.all([
    lab.exec(ns, 'nft', ['list', 'ruleset']),
    lab.ip(ns, ['rule', 'show']),
    lab.ip(ns, ['-6', 'rule', 'show']),
    lab.ip(ns, ['route', 'show', 'table', 'all']),
  ]);
  // Counter values follow whatever traffic the namespace sees (link chatter included): not part of the state.
  return parts.map((r) => r.stdout.replace(/packets \d+ bytes \d+/g, 'packets N bytes N')).join('\n----\n');
}

/** conntrack marks of the namespace's TCP connections to `dport`. */
export async function conntrackMarks(lab: Lab, ns: string, dport: number): Promise<number[]> {
  const r = await lab.exec(ns, 'conntrack', ['-L', '-p', 'tcp', '--dport', String(dport)]);
  return [...r.stdout.matchAll(/mark=(\d+)/g)].map((m) => Number(m[1]));
}

/** Binomial bounds: k successes of n at probability p lie within z standard deviations. */
export function binomialBounds(n: number, p: number, z = 5): [number, number] {
  const sd = Math.sqrt(n * p * (1 - p));
  return [Math.floor(n * p - z * sd), Math.ceil(n * p + z * sd)];
}
