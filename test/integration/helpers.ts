// Shared pieces for namespace integration tests: running the CLI in the gateway, traffic, state snapshots.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecResult, Lab } from '../../lab/ns.js';

export const BIN = new URL('../../bin/nft-mwan', import.meta.url).pathname;

export function configFile(config: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-test-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** Runs `nft-mwan ARGS` inside the gateway namespace. */
export function cli(lab: Lab, gw: string, ...args: string[]): Promise<ExecResult> {
  return lab.exec(gw, BIN, args, { timeoutMs: 60_000 });
}

export async function cliOk(lab: Lab, gw: string, ...args: string[]): Promise<string> {
  const r = await cli(lab, gw, ...args);
  if (r.exitCode !== 0) throw new Error(`nft-mwan ${args.join(' ')} exited ${r.exitCode}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

export interface ConnectResult {
  ok: number;
  failed: number;
  peers: Record<string, number>;
  errors: string[];
}

export async function connectMany(lab: Lab, ns: string, target: string, count: number, concurrency = 20): Promise<ConnectResult> {
  const [node, args] = lab.agentArgs('connect', [target, String(count), String(concurrency)]);
  const out = await lab.sh(ns, node, args, { timeoutMs: 120_000 });
  return JSON.parse(out) as ConnectResult;
}

export async function startServer(lab: Lab, ns: string, ...listen: string[]): Promise<void> {
  const [node, args] = lab.agentArgs('server', listen);
  const server = lab.spawn(ns, node, args);
  await server.waitForLine((l) => l === 'ready');
}

/** Everything in a namespace's network state that apply/stop could change, as text. */
export async function snapshot(lab: Lab, ns: string): Promise<string> {
  const parts = await Promise.all([
    lab.sh(ns, 'nft', ['list', 'ruleset']),
    lab.sh(ns, 'ip', ['rule', 'show']),
    lab.sh(ns, 'ip', ['-6', 'rule', 'show']),
    lab.sh(ns, 'ip', ['route', 'show', 'table', 'all']),
  ]);
  return parts.join('\n----\n');
}

/** conntrack marks of the gateway's TCP connections to `dport`. */
export async function conntrackMarks(lab: Lab, ns: string, dport: number): Promise<number[]> {
  const r = await lab.exec(ns, 'conntrack', ['-L', '-p', 'tcp', '--dport', String(dport)]);
  return [...r.stdout.matchAll(/mark=(\d+)/g)].map((m) => Number(m[1]));
}

/** Binomial bounds: k successes of n at probability p lie within z standard deviations. */
export function binomialBounds(n: number, p: number, z = 5): [number, number] {
  const sd = Math.sqrt(n * p * (1 - p));
  return [Math.floor(n * p - z * sd), Math.ceil(n * p + z * sd)];
}
