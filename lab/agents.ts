// Typed wrappers that run the lab's agents (lab/agents/*.mjs: TCP, UDP, HTTP, DNS) inside namespaces and parse what they print.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BackgroundProcess, Lab } from './netns.js';

export type AgentName = 'tcp-server' | 'tcp-client' | 'tcp-hold' | 'http-server' | 'dns-server' | 'udp-server' | 'udp-client';

/**
 * The agents sit next to this file in the source tree (vitest). tsc does not copy .mjs files, so
 * from the compiled dist/lab/agents.js (the demo, benchmarks) they are found back in lab/agents/.
 */
const AGENT_DIRS = [new URL('./agents/', import.meta.url), new URL('../../lab/agents/', import.meta.url)].map((u) => fileURLToPath(u));
const AGENTS_DIR = AGENT_DIRS.find((dir) => existsSync(`${dir}tcp-server.mjs`));

export function agentPath(name: AgentName): string {
  if (AGENTS_DIR === undefined) throw new Error(`lab agents not found in ${AGENT_DIRS.join(' or ')}`);
  return `${AGENTS_DIR}${name}.mjs`;
}

/** "ip:port", with brackets for IPv6. */
export function endpoint(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Starts a server agent listening on every endpoint and waits until it says ready. */
async function startServer(
  lab: Lab,
  ns: string,
  name: AgentName,
  listen: readonly string[],
  extra: readonly string[],
  timeoutMs: number,
): Promise<BackgroundProcess> {
  const proc = lab.node(ns, agentPath(name), [...listen.flatMap((l) => ['--listen', l]), ...extra]);
  await proc.waitForLine((line) => line === 'ready', { timeoutMs });
  return proc;
}

/** Starts tcp-server listening on every endpoint and waits until it says ready. */
export async function startTcpServer(
  lab: Lab,
  ns: string,
  listen: readonly string[],
  { timeoutMs = 5_000 }: { timeoutMs?: number } = {},
): Promise<BackgroundProcess> {
  return startServer(lab, ns, 'tcp-server', listen, [], timeoutMs);
}

/**
 * Starts http-server: every request gets `status` (default 200), except one for /status/NNN (200-599), which
 * gets NNN; the body is "<status> peer <client> local <server>".
 */
export async function startHttpServer(
  lab: Lab,
  ns: string,
  listen: readonly string[],
  { status, timeoutMs = 5_000 }: { status?: number; timeoutMs?: number } = {},
): Promise<BackgroundProcess> {
  return startServer(lab, ns, 'http-server', listen, status === undefined ? [] : ['--status', String(status)], timeoutMs);
}

/** The address dns-server answers every A query with. */
export const DNS_ANSWER_A = '192.0.2.99';

/** Starts dns-server (UDP): A queries get DNS_ANSWER_A with TTL 60, other types an empty NOERROR. */
export async function startDnsServer(
  lab: Lab,
  ns: string,
  listen: readonly string[],
  { timeoutMs = 5_000 }: { timeoutMs?: number } = {},
): Promise<BackgroundProcess> {
  return startServer(lab, ns, 'dns-server', listen, [], timeoutMs);
}

/** Starts udp-server: every datagram is answered with "peer ADDR PORT", the sender as the server saw it. */
export async function startUdpServer(
  lab: Lab,
  ns: string,
  listen: readonly string[],
  { timeoutMs = 5_000 }: { timeoutMs?: number } = {},
): Promise<BackgroundProcess> {
  return startServer(lab, ns, 'udp-server', listen, [], timeoutMs);
}

export interface UdpClientOptions {
  target: string;
  count: number;
  /** Flow i sends from local port sourcePort + i: a second run repeats the same flows. */
  sourcePort: number;
  /** Per flow: how long it keeps sending (every 200 ms) for an answer. */
  timeoutMs?: number;
}

export interface UdpClientResult {
  ok: number;
  failed: number;
  /** Flows per client address as the server saw it (after any NAT). */
  peers: Record<string, number>;
}

/** Runs udp-client to completion: `count` flows at once, each from its own fixed port. */
export async function runUdpClient(lab: Lab, ns: string, options: UdpClientOptions): Promise<UdpClientResult> {
  const timeoutMs = options.timeoutMs ?? 2_000;
  const args = ['--target', options.target, '--count', String(options.count), '--source-port', String(options.sourcePort), '--timeout-ms', String(timeoutMs)];
  const r = await lab.runNode(ns, agentPath('udp-client'), args, { timeoutMs: timeoutMs + 10_000 });
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as UdpClientResult;
}

export interface TcpClientOptions {
  target: string;
  count: number;
  concurrency?: number;
  /** Per connection: connect plus the server's first line. */
  timeoutMs?: number;
  /** Source address to bind, e.g. to try another WAN's address. */
  source?: string;
  /** Flow i binds local port sourcePort + i: a second run repeats the same connections' ports. */
  sourcePort?: number;
}

export interface TcpClientResult {
  ok: number;
  failed: number;
  /** Connections per client address as the server saw it (after any NAT). */
  peers: Record<string, number>;
  /** Connections per server address they reached. */
  locals: Record<string, number>;
  /** The first few distinct failure messages. */
  errors: string[];
}

/** Runs tcp-client to completion: `count` separate flows, each a new connection. */
export async function runTcpClient(lab: Lab, ns: string, options: TcpClientOptions): Promise<TcpClientResult> {
  const concurrency = options.concurrency ?? 1;
  const timeoutMs = options.timeoutMs ?? 2_000;
  const args = ['--target', options.target, '--count', String(options.count), '--concurrency', String(concurrency)];
  args.push('--timeout-ms', String(timeoutMs));
  if (options.source) args.push('--source', options.source);
  if (options.sourcePort !== undefined) args.push('--source-port', String(options.sourcePort));
  // Worst case every round of `concurrency` flows times out; plus Node's start-up.
  const rounds = Math.ceil(options.count / Math.max(1, concurrency));
  const r = await lab.runNode(ns, agentPath('tcp-client'), args, { timeoutMs: rounds * timeoutMs + 10_000 });
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as TcpClientResult;
}

export interface HoldConnected {
  event: 'connected';
  peer: string;
  peerPort: number;
  local: string;
}

export interface HoldSummary {
  event: 'summary';
  sent: number;
  echoed: number;
  /** Echoes that were not the next number expected. */
  mismatched: number;
  /** The longest time without an echo while lines were outstanding. */
  maxGapMs: number;
  /** The connection ended (reset, closed by the peer) before the agent was stopped. */
  closed: boolean;
  error: string | null;
}

export interface TcpHold {
  process: BackgroundProcess;
  connected: HoldConnected;
  /** SIGTERM, then the summary the agent prints (also if the flow already ended on its own). */
  stop(): Promise<HoldSummary>;
}

export interface TcpHoldOptions {
  target: string;
  intervalMs?: number;
  durationMs?: number;
  connectTimeoutMs?: number;
  source?: string;
}

function event(line: string): { event?: string } | undefined {
  try {
    return line.startsWith('{') ? (JSON.parse(line) as { event?: string }) : undefined;
  } catch {
    return undefined;
  }
}

/** Starts one long-lived flow and waits until the server's greeting came back. */
export async function startTcpHold(lab: Lab, ns: string, options: TcpHoldOptions): Promise<TcpHold> {
  const connectTimeoutMs = options.connectTimeoutMs ?? 3_000;
  const args = ['--target', options.target, '--interval-ms', String(options.intervalMs ?? 50)];
  args.push('--connect-timeout-ms', String(connectTimeoutMs));
  if (options.durationMs !== undefined) args.push('--duration-ms', String(options.durationMs));
  if (options.source) args.push('--source', options.source);
  const proc = lab.node(ns, agentPath('tcp-hold'), args);
  const first = event(await proc.waitForLine((l) => event(l)?.event !== undefined, { timeoutMs: connectTimeoutMs + 5_000 }));
  if (first?.event !== 'connected') {
    throw new Error(`tcp-hold to ${options.target} from ${ns} did not connect: ${JSON.stringify(first)}`);
  }
  const summary = async (): Promise<HoldSummary> => {
    await proc.kill(5_000);
    const line = proc.lines().find((l) => event(l)?.event === 'summary');
    if (line === undefined) throw new Error(`tcp-hold in ${ns} printed no summary\n${proc.stdout()}\n${proc.stderr()}`);
    return JSON.parse(line) as HoldSummary;
  };
  return { process: proc, connected: first as HoldConnected, stop: summary };
}
