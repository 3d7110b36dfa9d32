// Daemon footprint: resident memory and CPU (its own and its probes') while tracking 4 WANs at interval 1 s.
import { readdirSync, readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lab } from '../../lab/netns.js';
import { LAB_NET } from '../../lab/topology.js';

export interface Footprint {
  wans: number;
  interval: number;
  seconds: number;
  rssMb: number;
  peakRssMb: number;
  /** Percent of one core: the daemon itself, and the probe processes it started (running or exited). */
  cpuSelfPct: number;
  cpuChildrenPct: number;
}

const TICKS = 100; // USER_HZ on Linux

function statFields(pid: number): string[] {
  // Fields after the command name: state is field 3; utime 14, stime 15, cutime 16, cstime 17.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The daemon's own CPU ticks, and its probes': exited children (reaped) plus the running ones. */
function cpuTicks(pid: number): { self: number; children: number; live: Map<number, number> } {
  const f = statFields(pid);
  const live = new Map<number, number>();
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    for (const child of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) {
      try {
        const c = statFields(Number(child));
        live.set(Number(child), Number(c[11]) + Number(c[12]));
      } catch {
        // Exited meanwhile: counted in cutime/cstime once reaped.
      }
    }
  }
  return { self: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]), live };
}

function liveDelta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, ticks] of after) sum += ticks - (before.get(pid) ?? 0);
  return sum;
}

function memory(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

export async function runFootprint(lab: Lab, o: { seconds: number; bin: string; log: (l: string) => void }): Promise<Footprint> {
  const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-bench-fp-'));
  const file = join(dir, 'config.json');
  const SRV1 = LAB_NET.server.addrs[0];
  const wans = [1, 2, 3, 4];
  writeFileSync(
    file,
    JSON.stringify({
      interfaces: Object.fromEntries(wans.map((k) => [`wan${k}`, { device: `wan${k}`, gateway: 'auto', track: { targets: [SRV1], interval: 1, timeout: 1 } }])),
      policies: { balanced: { members: wans.map((k) => ({ interface: `wan${k}` })) } },
      rules: [{ name: 'default', policy: 'balanced' }],
    }),
  );
  const daemon = lab.spawn('gw', process.execPath, [o.bin, 'daemon', '--quiet', '--config', file, '--state-dir', join(dir, 'state')]);
  try {
    // Settled: started, first rounds done, JIT warm.
    await new Promise((r) => setTimeout(r, 10_000));
    const t0 = cpuTicks(daemon.pid);
    const started = performance.now();
    await new Promise((r) => setTimeout(r, o.seconds * 1000));
    const t1 = cpuTicks(daemon.pid);
    const elapsed = (performance.now() - started) / 1000;
    const m = memory(daemon.pid);
    const f: Footprint = {
      wans: wans.length,
      interval: 1,
      seconds: o.seconds,
      rssMb: m.rss,
      peakRssMb: m.hwm,
      cpuSelfPct: ((t1.self - t0.self) / TICKS / elapsed) * 100,
      cpuChildrenPct: ((t1.children - t0.children + liveDelta(t0.live, t1.live)) / TICKS / elapsed) * 100,
    };
    o.log(
      `  daemon, ${f.wans} WANs at interval 1 s over ${o.seconds} s: RSS ${f.rssMb.toFixed(1)} MB (peak ${f.peakRssMb.toFixed(1)}), ` +
        `CPU ${f.cpuSelfPct.toFixed(2)} % self + ${f.cpuChildrenPct.toFixed(2)} % probes`,
    );
    return f;
  } finally {
    await daemon.kill(5_000);
    await lab.exec('gw', o.bin, ['stop', '--config', file], { reject: false });
  }
}
