// Data-plane benchmark (not a test): what each way of spreading connections over three WANs costs the
// gateway per packet. Measured through the lab's gateway namespace:
//   - NEW-connection rate: trafgen in 'lan' sends TCP SYNs, every one a new flow (random source address
//     in 192.168.10.0/24, random source port) to 192.0.2.10:5001; the server counts what arrives (an nft
//     counter in its input hook, then drops it, so nothing answers);
//   - established throughput: one iperf3 TCP stream from 'lan' to the server.
// Setups: 'ecmp' (a multipath default route plus masquerade: the floor, no policy at all), 'mwan3-iptables'
// (mwan3's iptables structure, see mwan3-iptables.ts) and 'nft-mwan' (bin/nft-mwan apply), the last two
// with N user rules before the default rule. Rounds are interleaved: in round r every setup and rule count
// runs once, in an order rotated by r, with an ECMP run before and after each, so every run is read as a
// ratio to the mean of the two ECMP runs around it, a dozen seconds apart: the machine's drift over the
// minutes a round takes mostly cancels.
//
// Everything runs inside the lab's namespaces (trafgen never touches host IRQ affinity or socket memory:
// --notouch-irq, --no-sock-mem). Every load run is bounded in packets (trafgen --num) and in time.
//
// The SYN flood runs in bursts, with `conntrack -F` in the gateway before each: a burst creates one
// conntrack entry and one NAT mapping per packet, and both are finite. nf_conntrack_max is global and
// read-only inside a namespace, and masquerade to one server address and port has about 64k source ports
// per WAN address: once a good part of them is taken, NAT probes for free ports and the rate falls
// (150k SYNs over three WANs measured ~20 % slower than 60k). So a burst is at most 60k packets (about
// 20k, a third of the port space, per WAN) and at most half the conntrack table; bursts repeat until
// `seconds` of wall time have passed, and the rate is delivered SYNs over trafgen's own sending time.
//
// trafgen, the gateway, the ISP and the server all run on one CPU: veth delivers in the sender's
// softirq, so every packet is generated, forwarded twice and counted on the CPU trafgen runs on (-P 1).
// The absolute rate therefore includes fixed costs (generator, ISP, server) common to every setup: the
// ratios understate the gateway's own differences, never overstate them.
//
// Where perf is installed, every run also records one extra burst under `perf record -e cpu-clock`
// (profile.ts), not timed: CPU per packet split into the parts of the path (filter chains, ip rules,
// NAT, conntrack, routing, the rest), each read against the ECMP runs around it as the rates are.
// The rates say how far apart two setups are; the profile says where the difference is spent, with less
// noise in the parts that differ, because it counts one setup's own work instead of timing a shared machine.
//
//   node dist/scripts/bench/dataplane.js [--rounds 3] [--seconds 5] [--rules 0,200,1000] [--burst 60000] [--no-profile] [--json FILE]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { endpoint, runTcpClient, startTcpServer } from '../../lab/agents.js';
import { type BackgroundProcess, type Lab, withLab } from '../../lab/netns.js';
import { buildMultiWan, LAB_NET, type MultiWan, type WanIndex } from '../../lab/topology.js';
import { mwan3Ruleset, pinAddress, PIN_LIMIT, type Mwan3Route } from './mwan3-iptables.js';
import { meanCost, PROFILE_PARTS, type PacketCost, type ProfilePart } from './profile.js';
import {
  flushConntrack,
  installSynCounter,
  isMain,
  perfWorks,
  profileBurst,
  removeSynCounter,
  SERVER,
  SYN_PORT,
  type SynFlood,
  timedBurst,
  writeTrafgenConfig,
} from './synflood.js';

export type DataplaneSetup = 'ecmp' | 'mark-floor' | 'mwan3-iptables' | 'nft-mwan';

export interface DataplaneOptions {
  rounds: number;
  /** Wall time of each measurement: the SYN bursts of one run, and iperf3's -t. */
  seconds: number;
  /** User rules before the default rule, e.g. [0, 200, 1000] (at most 1024: 203.0.112.0/22). */
  ruleCounts: number[];
  log: (line: string) => void;
  /** Path of bin/nft-mwan. */
  bin: string;
  /** SYNs per burst (default 60000; never more than half of nf_conntrack_max). */
  burstPackets?: number;
  /** Profile one extra burst per run with perf: 'auto' (default) when perf works, false never, true or fail. */
  profile?: boolean | 'auto';
}

export interface DataplaneRow {
  setup: DataplaneSetup;
  rules: number;
  /** One per round. */
  newConnPps: number[];
  throughputMbps: number[];
  /** Per round, the mean of the ECMP runs just before and just after this row's run (ECMP's own: its round's median). */
  ecmpNewConnPps: number[];
  ecmpThroughputMbps: number[];
  /** Per round, CPU per packet by part from the profiled burst (absent without perf). ECMP's own: the mean of its round's runs. */
  cost?: PacketCost[];
  /** Per round, the mean of the ECMP runs' costs just before and after this row's run. */
  ecmpCost?: PacketCost[];
}

export interface RatioRow {
  setup: DataplaneSetup;
  rules: number;
  /** Per round: this row's value over the ECMP runs around it. */
  newConnPps: number[];
  throughputMbps: number[];
}

const IPERF_PORT = 5201;
const DEFAULT_BURST = 60_000;
/** A burst never asks for more than this share of the conntrack table. */
const CONNTRACK_SHARE = 0.5;
const CHECK_CONNECTIONS = 6;

export const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/** Every row as per-round ratios to the ECMP runs just before and after it (ECMP itself: all 1). */
export function ecmpRatios(rows: readonly DataplaneRow[]): RatioRow[] {
  const div = (xs: number[], bs: number[]) => xs.map((x, i) => x / (bs[i] ?? Number.NaN));
  return rows.map((r) => ({
    setup: r.setup,
    rules: r.rules,
    newConnPps: div(r.newConnPps, r.ecmpNewConnPps),
    throughputMbps: div(r.throughputMbps, r.ecmpThroughputMbps),
  }));
}

export interface CostSummary {
  setup: DataplaneSetup;
  rules: number;
  /** Median CPU per packet under perf (µs). */
  totalUs: number;
  /** Median over rounds of this row's total over the ECMP runs' around it. */
  vsEcmp: number;
  /** Median over rounds of the difference to the ECMP runs around it, per part and in all (µs). */
  extraUs: Record<ProfilePart, number>;
  extraTotalUs: number;
}

/** The profiled rows, each part as the median difference to the ECMP runs around each run. */
export function costSummaries(rows: readonly DataplaneRow[]): CostSummary[] {
  return rows.flatMap((r): CostSummary[] => {
    const cost = r.cost;
    const base = r.ecmpCost;
    if (!cost?.length || !base || base.length !== cost.length) return [];
    const at = (i: number) => base[i] as PacketCost;
    const extraUs = Object.fromEntries(PROFILE_PARTS.map((p) => [p, median(cost.map((c, i) => c.us[p] - at(i).us[p]))])) as CostSummary['extraUs'];
    return [
      {
        setup: r.setup,
        rules: r.rules,
        totalUs: median(cost.map((c) => c.totalUs)),
        vsEcmp: median(cost.map((c, i) => c.totalUs / at(i).totalUs)),
        extraUs,
        extraTotalUs: median(cost.map((c, i) => c.totalUs - at(i).totalUs)),
      },
    ];
  });
}

/** nft-mwan's config for the benchmark: every WAN balanced, N /32 pins to wan1, then the default rule. */
export function nftMwanConfig(wans: readonly WanIndex[], rules: number): unknown {
  const interfaces = Object.fromEntries(wans.map((k) => [`wan${k}`, { device: LAB_NET.wan[k].dev, gateway: 'auto', id: k }]));
  const pins = Array.from({ length: rules }, (_, i) => ({ name: `pin${i}`, destIp: [`${pinAddress(i)}/32`], policy: 'wan1_only' }));
  return {
    interfaces,
    policies: {
      balanced: { members: wans.map((k) => ({ interface: `wan${k}` })) },
      wan1_only: { members: [{ interface: `wan${wans[0] ?? 1}` }] },
    },
    rules: [...pins, { name: 'default', policy: 'balanced' }],
  };
}

/**
 * The mark-floor's table: the least any per-connection policy router (mwan3's model, nft-mwan's) must do
 * in its chains: restore the mark, pick a WAN for a NEW connection, save it, masquerade. WAN k's mark is
 * k * 0x100, so nft-mwan's fwmark rules route it too (ablation.ts runs it under them).
 */
export function markFloorTable(wans: readonly WanIndex[]): string {
  const marks = wans.map((k, i) => `${i} : 0x${(k * 0x100).toString(16)}`).join(', ');
  const devs = wans.map((k) => `"${LAB_NET.wan[k].dev}"`).join(', ');
  return `table inet bench_floor {
  chain pre {
    type filter hook prerouting priority -150; policy accept;
    ct mark != 0 meta mark set ct mark accept
    ct state new meta mark set numgen random mod ${wans.length} map { ${marks} } ct mark set meta mark
  }
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    oifname { ${devs} } masquerade
  }
}
`;
}

interface Context extends SynFlood {
  net: MultiWan;
  o: DataplaneOptions;
  /** The gateway's ruleset, ip rules and routes before any setup: every teardown must bring them back. */
  baseline: string;
  /** Profile each run (perf was found working). */
  profile: boolean;
}

interface Job {
  setup: DataplaneSetup;
  rules: number;
}

const label = (j: Job) => (j.setup === 'ecmp' || j.setup === 'mark-floor' ? j.setup : `${j.setup} rules=${j.rules}`);

async function gwState(lab: Lab): Promise<string> {
  const parts = await Promise.all([
    lab.exec('gw', 'nft', ['list', 'ruleset']),
    lab.ip('gw', ['-4', 'rule', 'show']),
    lab.ip('gw', ['-4', 'route', 'show', 'table', 'all']),
  ]);
  return parts.map((p) => p.stdout.trim()).join('\n---\n');
}

function firstDifference(want: string, got: string): string {
  const a = want.split('\n');
  const b = got.split('\n');
  const extra = b.filter((l) => !a.includes(l));
  const missing = a.filter((l) => !b.includes(l));
  return [...extra.map((l) => `+ ${l}`), ...missing.map((l) => `- ${l}`)].slice(0, 20).join('\n');
}

/** Main-table routes other than the defaults: what mwan3 mirrors into its tables and puts in its connected set. */
async function connectedRoutes(lab: Lab): Promise<Mwan3Route[]> {
  const r = await lab.ip('gw', ['-4', '-j', 'route', 'show', 'table', 'main']);
  const routes = JSON.parse(r.stdout) as { dst: string; dev?: string }[];
  return routes.filter((x) => x.dst !== 'default' && x.dev !== undefined).map((x) => ({ dst: x.dst, dev: x.dev as string }));
}

/** The lab's own default routes, one per WAN with metric 10k. */
async function restoreDefaultRoutes(ctx: Context): Promise<void> {
  for (const k of ctx.net.wans) {
    const w = LAB_NET.wan[k];
    await ctx.lab.ip('gw', ['route', 'replace', 'default', 'via', w.gateway, 'dev', w.dev, 'metric', String(w.metric)]);
  }
}

type Undo = () => Promise<unknown>;

/** Installs a setup; returns the steps that remove it, pushed before each step so a half install is undone too. */
async function install(ctx: Context, job: Job, undo: Undo[]): Promise<void> {
  const { lab, net } = ctx;
  const quiet = { reject: false, timeoutMs: 60_000 } as const;
  if (job.setup === 'ecmp') {
    const nexthops = net.wans.flatMap((k) => ['nexthop', 'via', LAB_NET.wan[k].gateway, 'dev', LAB_NET.wan[k].dev]);
    undo.push(() => restoreDefaultRoutes(ctx));
    undo.push(() => lab.ip('gw', ['route', 'del', 'default', ...nexthops], quiet));
    await lab.ip('gw', ['route', 'replace', 'default', ...nexthops]);
    const devs = net.wans.map((k) => `"${LAB_NET.wan[k].dev}"`).join(', ');
    undo.push(() => lab.exec('gw', 'nft', ['delete', 'table', 'inet', 'bench_ecmp'], quiet));
    await lab.nft(
      'gw',
      `table inet bench_ecmp {\n  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n` +
        `    oifname { ${devs} } masquerade\n  }\n}\n`,
    );
    return;
  }
  if (job.setup === 'mark-floor') {
    // The least any per-connection policy router (mwan3's model, nft-mwan's) must do: restore the mark,
    // pick a WAN for a NEW connection, save it, route by fwmark, masquerade. Nothing else: the floor of
    // the design, between ECMP and a complete ruleset.
    const ids = net.wans;
    undo.push(() => lab.exec('gw', 'nft', ['delete', 'table', 'inet', 'bench_floor'], quiet));
    await lab.nft('gw', markFloorTable(ids));
    for (const k of ids) {
      const w = LAB_NET.wan[k];
      const mark = `0x${(k * 0x100).toString(16)}`;
      undo.push(() => lab.ip('gw', ['rule', 'del', 'fwmark', mark, 'lookup', String(1000 + k), 'priority', String(1000 + k)], quiet));
      await lab.ip('gw', ['rule', 'add', 'fwmark', mark, 'lookup', String(1000 + k), 'priority', String(1000 + k)]);
      undo.push(() => lab.ip('gw', ['route', 'flush', 'table', String(1000 + k)], quiet));
      await lab.ip('gw', ['route', 'add', 'default', 'via', w.gateway, 'dev', w.dev, 'table', String(1000 + k)]);
      // Replies to the LAN: the main table's LAN route, for the marked packets too.
      await lab.ip('gw', ['route', 'add', LAB_NET.lan.prefix, 'dev', LAB_NET.lan.gwDev, 'table', String(1000 + k)]);
    }
    return;
  }
  if (job.setup === 'mwan3-iptables') {
    const mirror = await connectedRoutes(lab);
    // mwan3's connected set: the main table's networks plus loopback and multicast.
    const connected = [...mirror.map((r) => r.dst), '127.0.0.0/8', '224.0.0.0/3'];
    const rs = mwan3Ruleset({
      wans: net.wans.map((k) => ({ name: `wan${k}`, dev: LAB_NET.wan[k].dev, id: k, gateway: LAB_NET.wan[k].gateway })),
      rules: job.rules,
      connected,
      mirror,
    });
    // iptables-nft's tables: gw holds nothing else, so they go whole.
    undo.push(async () => {
      for (const t of ['mangle', 'nat']) await lab.exec('gw', 'nft', ['delete', 'table', 'ip', t], quiet);
    });
    await lab.exec('gw', 'iptables-nft-restore', [], { input: rs.iptables, timeoutMs: 120_000 });
    undo.push(async () => {
      for (const args of rs.ipUndo) await lab.ip('gw', args, quiet);
    });
    for (const args of rs.ipRules) await lab.ip('gw', args);
    return;
  }
  const file = join(ctx.dir, `nft-mwan-${job.rules}.json`);
  const state = join(ctx.dir, 'state');
  writeFileSync(file, JSON.stringify(nftMwanConfig(net.wans, job.rules), null, 1));
  undo.push(() => lab.exec('gw', process.execPath, [ctx.o.bin, 'stop', '--config', file, '--state-dir', state], quiet));
  await lab.exec('gw', process.execPath, [ctx.o.bin, 'apply', '--config', file, '--state-dir', state], { timeoutMs: 120_000 });
}

async function teardown(ctx: Context, job: Job, undo: Undo[]): Promise<void> {
  for (let u = undo.pop(); u; u = undo.pop()) await u();
  await flushConntrack(ctx.lab);
  const now = await gwState(ctx.lab);
  if (now !== ctx.baseline) {
    throw new Error(`${label(job)}: the gateway is not back to its state before the setup:\n${firstDifference(ctx.baseline, now)}`);
  }
}

/** New connections from lan to the server: all must succeed, through a WAN (masqueraded). */
async function checkForwarding(ctx: Context, job: Job): Promise<string> {
  const r = await runTcpClient(ctx.lab, 'lan', {
    target: endpoint(SERVER, SYN_PORT),
    count: CHECK_CONNECTIONS,
    concurrency: 3,
    timeoutMs: 2_000,
  });
  const wanAddrs = new Set<string>(ctx.net.wans.map((k) => LAB_NET.wan[k].addr));
  const unNatted = Object.keys(r.peers).filter((p) => !wanAddrs.has(p));
  if (r.ok !== CHECK_CONNECTIONS || unNatted.length > 0) {
    throw new Error(
      `${label(job)} does not forward: ${r.ok}/${CHECK_CONNECTIONS} TCP connections from lan to ${SERVER}:${SYN_PORT} succeeded` +
        ` (peers ${JSON.stringify(r.peers)}${r.errors.length ? `; errors: ${r.errors.join('; ')}` : ''})`,
    );
  }
  return Object.entries(r.peers)
    .map(([p, n]) => `${p}:${n}`)
    .join(' ');
}

interface PpsResult {
  pps: number;
  bursts: number;
  sent: number;
  delivered: number;
  sendSeconds: number;
  /** Per WAN, the share of the SYNs its ISP forwarded (from its counters), e.g. "34/33/33". */
  shares: string;
  /** Packets the ISPs dropped because their source was not the gateway's WAN address (not masqueraded). */
  spoofed: number;
  /** CPU per packet by part, from one more burst under perf (after the timed ones, with profiling on). */
  cost?: PacketCost;
}

async function ispTotals(net: MultiWan): Promise<{ passed: number[]; spoofed: number }> {
  const counters = await Promise.all(net.wans.map((k) => net.ispCounters(k)));
  return { passed: counters.map((c) => c.passed.packets), spoofed: counters.reduce((s, c) => s + c.spoofed.packets, 0) };
}

async function measureNewConnections(ctx: Context): Promise<PpsResult> {
  const { lab, o } = ctx;
  await installSynCounter(lab);
  try {
    const isp0 = await ispTotals(ctx.net);
    const deadline = performance.now() + o.seconds * 1000;
    // Generous: a healthy burst takes well under a second; a broken setup still ends.
    const burstTimeoutMs = Math.max(30_000, o.seconds * 3_000);
    let bursts = 0;
    let sent = 0;
    let delivered = 0;
    let sendSeconds = 0;
    do {
      const { run, delivered: got } = await timedBurst(ctx, burstTimeoutMs);
      delivered += got;
      sent += run.sent;
      sendSeconds += run.seconds;
      bursts++;
    } while (performance.now() < deadline && bursts < 10_000);
    const isp1 = await ispTotals(ctx.net);
    const perWan = isp1.passed.map((p, i) => p - (isp0.passed[i] ?? 0));
    const total = perWan.reduce((a, b) => a + b, 0) || 1;
    const shares = perWan.map((p) => ((100 * p) / total).toFixed(0)).join('/');
    const cost = ctx.profile ? await profileBurst(ctx) : undefined;
    return { pps: delivered / sendSeconds, bursts, sent, delivered, sendSeconds, shares, spoofed: isp1.spoofed - isp0.spoofed, ...(cost ? { cost } : {}) };
  } finally {
    await removeSynCounter(lab);
    await flushConntrack(lab);
  }
}

interface IperfJson {
  error?: string;
  end?: { sum_received?: { bits_per_second?: number } };
}

async function measureThroughput(ctx: Context): Promise<number> {
  const t = Math.max(1, Math.round(ctx.o.seconds));
  const r = await ctx.lab.exec('lan', 'iperf3', ['--client', SERVER, '--port', String(IPERF_PORT), '--time', String(t), '--json'], {
    timeoutMs: t * 1000 + 30_000,
    reject: false,
  });
  let parsed: IperfJson;
  try {
    parsed = JSON.parse(r.stdout) as IperfJson;
  } catch {
    throw new Error(`iperf3 (exit ${r.exitCode}) printed no JSON:\n${r.stdout}\n${r.stderr}`);
  }
  const bps = parsed.end?.sum_received?.bits_per_second;
  if (parsed.error || r.exitCode !== 0 || bps === undefined) {
    throw new Error(`iperf3 failed (exit ${r.exitCode}): ${parsed.error ?? r.stderr}`);
  }
  return bps / 1e6;
}

async function requireTools(lab: Lab): Promise<void> {
  const need: [string, string][] = [
    ['lan', 'trafgen'],
    ['lan', 'iperf3'],
    ['gw', 'iptables-nft-restore'],
    ['gw', 'conntrack'],
  ];
  const missing: string[] = [];
  for (const [ns, tool] of need) {
    const r = await lab.exec(ns, 'sh', ['-c', `command -v ${tool}`], { reject: false });
    if (r.exitCode !== 0) missing.push(tool);
  }
  if (missing.length) throw new Error(`dataplane benchmark: missing ${missing.join(', ')}`);
}

/** How many SYNs one burst may send: what the conntrack table holds with room to spare. */
async function burstSize(ctx: Pick<Context, 'lab' | 'o'>): Promise<{ burst: number; ctMax: number | null }> {
  const wanted = ctx.o.burstPackets ?? DEFAULT_BURST;
  const r = await ctx.lab.exec('gw', 'cat', ['/proc/sys/net/netfilter/nf_conntrack_max'], { reject: false });
  const ctMax = r.exitCode === 0 ? Number(r.stdout.trim()) : Number.NaN;
  if (!Number.isFinite(ctMax) || ctMax <= 0) return { burst: Math.min(wanted, 32_768), ctMax: null };
  return { burst: Math.max(1_000, Math.min(wanted, Math.floor(ctMax * CONNTRACK_SHARE))), ctMax };
}

interface Measured {
  pps: number;
  mbps: number;
  cost?: PacketCost;
}

/** Installs a setup, checks that it forwards, measures it and removes it (on failure too). */
async function runJob(ctx: Context, job: Job): Promise<Measured> {
  const { o } = ctx;
  const undo: Undo[] = [];
  let pps: PpsResult;
  let mbps: number;
  let peers: string;
  const t0 = performance.now();
  try {
    await install(ctx, job, undo);
    const applyMs = performance.now() - t0;
    peers = await checkForwarding(ctx, job);
    pps = await measureNewConnections(ctx);
    mbps = await measureThroughput(ctx);
    o.log(
      `  ${label(job).padEnd(26)} ${(pps.pps / 1000).toFixed(1).padStart(7)} kSYN/s ` +
        `(${pps.bursts} bursts, ${pps.delivered}/${pps.sent} delivered in ${pps.sendSeconds.toFixed(2)} s, WAN shares % ${pps.shares}` +
        `${pps.spoofed ? `, ${pps.spoofed} NOT MASQUERADED` : ''})  ` +
        `${mbps.toFixed(0).padStart(6)} Mbit/s   install ${applyMs.toFixed(0)} ms, check ${peers}` +
        `${
          pps.cost
            ? `; profiled ${pps.cost.totalUs.toFixed(2)} us/packet (${pps.cost.samples} samples), filter chains ${pps.cost.us.filterChains.toFixed(2)} us`
            : ''
        }`,
    );
  } catch (error) {
    // The measurement's failure is the news; a teardown failure on top of it is only appended.
    await teardown(ctx, job, undo).catch((e: unknown) => {
      if (error instanceof Error) error.message += `\n(teardown also failed: ${e instanceof Error ? e.message : String(e)})`;
    });
    throw error;
  }
  await teardown(ctx, job, undo);
  return { pps: pps.pps, mbps, ...(pps.cost ? { cost: pps.cost } : {}) };
}

export async function runDataplane(lab: Lab, net: MultiWan, o: DataplaneOptions): Promise<DataplaneRow[]> {
  if (!Number.isInteger(o.rounds) || o.rounds < 1) throw new Error(`rounds must be a positive whole number, got ${o.rounds}`);
  if (!(o.seconds > 0) || o.seconds > 600) throw new Error(`seconds must be in (0, 600], got ${o.seconds}`);
  const ruleCounts = [...new Set(o.ruleCounts)];
  for (const n of ruleCounts) {
    if (!Number.isInteger(n) || n < 0 || n > PIN_LIMIT) throw new Error(`rule count ${n}: a whole number from 0 to ${PIN_LIMIT}`);
  }
  await requireTools(lab);

  const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-dataplane-'));
  let iperf: BackgroundProcess | undefined;
  try {
    const { burst, ctMax } = await burstSize({ lab, o });
    o.log(
      `conntrack: nf_conntrack_max ${ctMax ?? 'unreadable'} (global, read-only in a namespace); ` +
        `SYN bursts of ${burst} packets, conntrack flushed in gw before each`,
    );
    const trafgenConfig = await writeTrafgenConfig(lab, dir);

    await startTcpServer(lab, 'srv', [endpoint(SERVER, SYN_PORT)]);
    iperf = lab.spawn('srv', 'iperf3', ['--server', '--bind', SERVER, '--port', String(IPERF_PORT), '--forceflush']);
    await iperf.waitForLine(/Server listening/, { timeoutMs: 5_000 });

    let profile = false;
    if (o.profile !== false) {
      const why = await perfWorks(lab, dir);
      if (why && o.profile === true) throw new Error(`dataplane benchmark: profiling asked for, but ${why}`);
      if (why) o.log(`profile: skipped (${why}); install perf (Debian: linux-perf) for the CPU-per-packet breakdown`);
      profile = why === null;
    }
    const ctx: Context = { lab, net, o, dir, trafgenConfig, burst, baseline: await gwState(lab), profile };
    const jobs: Job[] = [
      { setup: 'ecmp', rules: 0 },
      { setup: 'mark-floor', rules: 0 },
      ...ruleCounts.flatMap((rules): Job[] => [
        { setup: 'mwan3-iptables', rules },
        { setup: 'nft-mwan', rules },
      ]),
    ];
    const rows: DataplaneRow[] = jobs.map((j) => ({
      setup: j.setup,
      rules: j.rules,
      newConnPps: [],
      throughputMbps: [],
      ecmpNewConnPps: [],
      ecmpThroughputMbps: [],
    }));
    const rowOf = (j: Job) => rows.find((r) => r.setup === j.setup && r.rules === j.rules) as DataplaneRow;
    const ecmp = jobs[0] as Job;
    const others = jobs.slice(1);

    for (let round = 0; round < o.rounds; round++) {
      // ECMP before and after every other setup: each is read against the two ECMP runs around it, a
      // dozen seconds apart, not against one run minutes away, so the machine's drift mostly cancels.
      const shift = round % others.length;
      const order = [...others.slice(shift), ...others.slice(0, shift)];
      o.log(`round ${round + 1}/${o.rounds}: ${order.map(label).join(', ')}, each between two ecmp runs`);
      const ecmpRuns: Measured[] = [await runJob(ctx, ecmp)];
      for (const job of order) {
        const m = await runJob(ctx, job);
        const after = await runJob(ctx, ecmp);
        const before = ecmpRuns.at(-1) as Measured;
        ecmpRuns.push(after);
        const row = rowOf(job);
        row.newConnPps.push(m.pps);
        row.throughputMbps.push(m.mbps);
        row.ecmpNewConnPps.push((before.pps + after.pps) / 2);
        row.ecmpThroughputMbps.push((before.mbps + after.mbps) / 2);
        if (m.cost && before.cost && after.cost) {
          (row.cost ??= []).push(m.cost);
          (row.ecmpCost ??= []).push(meanCost([before.cost, after.cost]));
        }
      }
      const base = rowOf(ecmp);
      const pps = median(ecmpRuns.map((r) => r.pps));
      const mbps = median(ecmpRuns.map((r) => r.mbps));
      base.newConnPps.push(pps);
      base.throughputMbps.push(mbps);
      base.ecmpNewConnPps.push(pps);
      base.ecmpThroughputMbps.push(mbps);
      const costs = ecmpRuns.flatMap((r) => (r.cost ? [r.cost] : []));
      if (costs.length === ecmpRuns.length) {
        const c = meanCost(costs);
        (base.cost ??= []).push(c);
        (base.ecmpCost ??= []).push(c);
      }
    }
    return rows;
  } finally {
    await iperf?.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

function format(rows: readonly DataplaneRow[]): string[] {
  const ratios = ecmpRatios(rows);
  const out = ['setup            rules   new conns/s (median)   Mbit/s (median)   vs ecmp: conns/s   Mbit/s   (median of per-round ratios)'];
  for (const [i, r] of rows.entries()) {
    const q = ratios[i] as RatioRow;
    out.push(
      `${r.setup.padEnd(16)} ${String(r.rules).padStart(5)}   ${median(r.newConnPps).toFixed(0).padStart(20)}   ` +
        `${median(r.throughputMbps).toFixed(0).padStart(15)}   ${median(q.newConnPps).toFixed(3).padStart(16)}   ` +
        `${median(q.throughputMbps).toFixed(3).padStart(6)}`,
    );
  }
  const costs = costSummaries(rows);
  if (costs.length) {
    out.push('', `CPU per packet under perf (us, median), and the extra over the ECMP runs around each run by part: ${PROFILE_PARTS.join(', ')}`);
    for (const c of costs) {
      out.push(
        `${c.setup.padEnd(16)} ${String(c.rules).padStart(5)}   ${c.totalUs.toFixed(2).padStart(6)} us  x${c.vsEcmp.toFixed(3)}   ` +
          PROFILE_PARTS.map((p) => `${c.extraUs[p] >= 0 ? '+' : ''}${c.extraUs[p].toFixed(2)}`).join(' '),
      );
    }
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '5' },
      rules: { type: 'string', default: '0,200,1000' },
      burst: { type: 'string' },
      'no-profile': { type: 'boolean', default: false },
      json: { type: 'string' },
    },
  });
  const say = (s: string) => process.stdout.write(`${s}\n`);
  const bin = fileURLToPath(new URL('../../../bin/nft-mwan', import.meta.url));
  const o: DataplaneOptions = {
    rounds: Number(values.rounds),
    seconds: Number(values.seconds),
    ruleCounts: values.rules.split(',').map((s) => Number(s.trim())),
    log: say,
    bin,
    ...(values.burst === undefined ? {} : { burstPackets: Number(values.burst) }),
    profile: values['no-profile'] ? false : 'auto',
  };
  const rows = await withLab(async (lab) => {
    const net = await buildMultiWan(lab, { wans: 3 });
    return runDataplane(lab, net, o);
  });
  say('');
  for (const line of format(rows)) say(line);
  if (values.json) {
    writeFileSync(values.json, JSON.stringify({ date: new Date().toISOString(), options: { ...o, log: undefined }, rows, ratios: ecmpRatios(rows) }, null, 2));
  }
}

if (isMain(import.meta.url)) {
  main().catch((e: unknown) => {
    process.stderr.write(`dataplane: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
}
