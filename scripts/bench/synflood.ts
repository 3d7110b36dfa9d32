// The NEW-connection load of the data-plane benchmarks: TCP SYN bursts from 'lan' through the gateway to
// the server, every packet a new flow, counted where they arrive; and the same burst under perf for the
// CPU each packet costs, by part of the path (profile.ts). Shared by dataplane.ts and ablation.ts.
import { realpathSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Lab } from '../../lab/netns.js';
import { LAB_NET } from '../../lab/topology.js';
import { countProfile, packetCost, type PacketCost } from './profile.js';

export const SERVER = LAB_NET.server.addrs[0];
export const SYN_PORT = 5001;

/** The server's count of what arrives: an nft counter in its input hook, then a drop, so nothing answers. */
const BENCHCOUNT = `table inet benchcount {
  counter syn { }
  chain input {
    type filter hook input priority -10; policy accept;
    tcp dport ${SYN_PORT} counter name "syn" drop
  }
}
`;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface SynFlood {
  lab: Lab;
  /** A scratch directory of the run (perf's data file goes here). */
  dir: string;
  /** trafgen's packet description (writeTrafgenConfig). */
  trafgenConfig: string;
  /** SYNs per burst. */
  burst: number;
}

/** trafgen's packet: a SYN to the server from a random LAN source address and port. */
export async function writeTrafgenConfig(lab: Lab, dir: string): Promise<string> {
  const mac = (JSON.parse((await lab.ip('gw', ['-j', 'link', 'show', LAB_NET.lan.gwDev])).stdout) as { address: string }[])[0]?.address;
  if (!mac) throw new Error(`no MAC address on gw's ${LAB_NET.lan.gwDev}`);
  const file = join(dir, 'syn.trafgen');
  // Every packet a new flow: source 192.168.10.2-254 (not .1, the gateway's own: a martian) and
  // source port 1024-65535 at random; TTL set (trafgen's default is 0); checksums are recomputed.
  writeFileSync(
    file,
    `{ eth(da=${mac}), ipv4(sa=${LAB_NET.lan.addr}, sa[3]=drnd(2, 254), da=${SERVER}, ttl=64, df), ` +
      `tcp(sp=drnd(1024, 65535), dp=${SYN_PORT}, seq=drnd(), syn, win=64240) }\n`,
  );
  return file;
}

export const installSynCounter = (lab: Lab) => lab.nft('srv', BENCHCOUNT);
export const removeSynCounter = (lab: Lab) => lab.exec('srv', 'nft', ['delete', 'table', 'inet', 'benchcount'], { reject: false });

export async function synCounter(lab: Lab): Promise<number> {
  const r = await lab.exec('srv', 'nft', ['-j', 'list', 'counter', 'inet', 'benchcount', 'syn']);
  const parsed = JSON.parse(r.stdout) as { nftables: { counter?: { packets: number } }[] };
  const c = parsed.nftables.find((x) => x.counter)?.counter;
  if (!c) throw new Error(`srv: no benchcount counter in ${r.stdout}`);
  return c.packets;
}

export async function flushConntrack(lab: Lab): Promise<void> {
  // Prints "N flow entries have been deleted" on stderr; an empty table is no error.
  await lab.exec('gw', 'conntrack', ['-F'], { timeoutMs: 30_000 });
}

export interface TrafgenRun {
  sent: number;
  seconds: number;
  /** The CPUs its processes ran on. */
  cpus: number[];
}

/** trafgen's summary: "N packets outgoing" and per CPU "S sec, U usec on CPUn (N packets)". */
export function parseTrafgen(stdout: string): TrafgenRun {
  const sent = /(\d+) packets outgoing/.exec(stdout);
  const cpus = [...stdout.matchAll(/(\d+) sec,? (\d+) usec on CPU(\d+)/g)];
  if (!sent || cpus.length === 0) throw new Error(`trafgen printed no summary:\n${stdout}`);
  // One process per CPU, in parallel: the run lasts as long as the slowest.
  const seconds = Math.max(...cpus.map((m) => Number(m[1]) + Number(m[2]) / 1e6));
  return { sent: Number(sent[1]), seconds, cpus: cpus.map((m) => Number(m[3])) };
}

/** One burst of SYNs from lan, on one CPU. */
export async function synBurst(f: SynFlood, timeoutMs: number): Promise<TrafgenRun> {
  const r = await f.lab.exec(
    'lan',
    'trafgen',
    ['--in', f.trafgenConfig, '--out', LAB_NET.lan.dev, '--cpus', '1', '--num', String(f.burst), '--no-sock-mem', '--notouch-irq'],
    { timeoutMs },
  );
  return parseTrafgen(r.stdout);
}

/** One burst from a flushed conntrack table: SYNs delivered per second of trafgen's sending time. */
export async function timedBurst(f: SynFlood, timeoutMs: number): Promise<{ run: TrafgenRun; delivered: number }> {
  await flushConntrack(f.lab);
  const before = await synCounter(f.lab);
  const run = await synBurst(f, timeoutMs);
  // veth delivers in the sender's softirq: by the time trafgen exits the packets have arrived.
  // A short pause anyway, in case some were deferred to ksoftirqd.
  await sleep(20);
  return { run, delivered: (await synCounter(f.lab)) - before };
}

/** perf's sampling rate: a sample every 200 µs of CPU, some 5,000 per burst. */
const PROFILE_HZ = 4999;

/** Does `perf record -e cpu-clock` work here (installed, allowed)? Null if so, else why not. */
export async function perfWorks(lab: Lab, dir: string): Promise<string | null> {
  const file = join(dir, 'probe.perf');
  const r = await lab.exec('gw', 'perf', ['record', '-q', '-e', 'cpu-clock', '-a', '-o', file, '--', 'sleep', '0.05'], { reject: false, timeoutMs: 30_000 });
  rmSync(file, { force: true });
  return r.exitCode === 0 ? null : `perf record failed (exit ${r.exitCode}): ${(r.stderr || r.stdout).trim().split('\n')[0] ?? ''}`;
}

/** One extra, untimed burst under perf: CPU per delivered packet, by part of the path. */
export async function profileBurst(f: SynFlood): Promise<PacketCost> {
  const { lab } = f;
  const file = join(f.dir, 'burst.perf');
  await flushConntrack(lab);
  const before = await synCounter(lab);
  const perf = lab.spawn('gw', 'perf', ['record', '-q', '-e', 'cpu-clock', '-F', String(PROFILE_HZ), '-a', '-g', '-o', file]);
  let run: TrafgenRun;
  try {
    // perf prints nothing when it starts; give it time to open its events on every CPU.
    await sleep(300);
    if (!perf.running) throw new Error(`perf record exited at start: ${perf.stderr()}`);
    run = await synBurst(f, 60_000);
    await sleep(20);
  } finally {
    perf.signal('SIGINT');
    await Promise.race([perf.exited, sleep(10_000)]);
    await perf.kill();
  }
  const delivered = (await synCounter(lab)) - before;
  const script = await lab.exec('gw', 'perf', ['script', '-i', file, '-F', 'comm,cpu,ip,sym'], { timeoutMs: 120_000 });
  rmSync(file, { force: true });
  const cpu = run.cpus[0];
  if (cpu === undefined || run.cpus.length !== 1) throw new Error(`profiled trafgen ran on CPUs ${run.cpus.join(',')}, expected one`);
  return packetCost(countProfile(script.stdout, cpu), PROFILE_HZ, delivered);
}

/** Is the module at `moduleUrl` the script node was started with (run directly, not imported)? */
export function isMain(moduleUrl: string): boolean {
  const invoked = process.argv[1];
  if (invoked === undefined) return false;
  try {
    return realpathSync(invoked) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}
