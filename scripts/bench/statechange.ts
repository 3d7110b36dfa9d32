// Daemon state changes: the time from the trackers' decision to the verified table (the daemon's own log line),
// and its resident memory over many state changes (operator ifdown/ifup of one WAN through the control socket).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lab } from '../../lab/netns.js';
import { sendControl } from '../../src/daemon/control.js';
import { CONTROL_SOCKET } from '../../src/daemon/state-file.js';
import { benchConfig, median } from './control.js';

export interface StateChangeRun {
  wans: number;
  rules: number;
  changes: number;
  /** Per state change: from the trackers' decision to the verified table, as the daemon logs it. */
  decisionToVerifiedMs: number[];
  /** VmRSS after the first apply, then every `sampleEvery` state changes (MB). */
  rssMb: number[];
  sampleEvery: number;
}

/** The milliseconds of each "states applied in N ms, M ms after the state change" line in a daemon's log. */
export function decisionTimes(log: string): number[] {
  return [...log.matchAll(/states applied in \d+ ms, ([\d.]+) ms after the state change/g)].map((m) => Number(m[1]));
}

/** A process's resident memory in MB, from /proc/PID/status. */
export function residentMb(status: string): number {
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  if (kb === undefined) throw new Error('no VmRSS in the status');
  return Number(kb) / 1024;
}

/** In namespace `ns` (WANs wan1..wanN with veth peers, see prepareControlNamespace): one daemon, `changes` state changes. */
export async function runStateChanges(
  lab: Lab,
  ns: string,
  o: {
    wans: number;
    rules: number;
    changes: number;
    sampleEvery: number;
    bin: string;
    env?: Record<string, string>;
    log: (l: string) => void;
    onSample?: (pid: number) => void;
  },
): Promise<StateChangeRun> {
  const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-bench-sc-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(benchConfig(o.wans, o.rules)), { mode: 0o600 });
  const stateDir = join(dir, 'state');
  const envArgs = Object.entries(o.env ?? {}).map(([k, v]) => `${k}=${v}`);
  const daemon = lab.spawn(ns, 'env', [...envArgs, process.execPath, o.bin, 'daemon', '--config', file, '--state-dir', stateDir]);
  const out: StateChangeRun = { wans: o.wans, rules: o.rules, changes: o.changes, decisionToVerifiedMs: [], rssMb: [], sampleEvery: o.sampleEvery };
  try {
    await lab.waitFor(() => daemon.stderr().includes('states applied in') || !daemon.running, { timeoutMs: 60_000, what: 'the daemon to apply' });
    if (!daemon.running) throw new Error(`the daemon exited:\n${daemon.stderr()}`);
    const socket = join(stateDir, CONTROL_SOCKET);
    // Ready once it answers on its socket (right after its first apply it may not yet): an ifup of an online WAN changes nothing.
    await lab.waitFor(() => sendControl(socket, { command: 'ifup', interface: 'wan1' }).then((r) => r.ok), {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: 'the control socket',
    });
    const rss = () => {
      o.onSample?.(daemon.pid);
      return residentMb(readFileSync(`/proc/${daemon.pid}/status`, 'utf8'));
    };
    out.rssMb.push(rss());
    for (let i = 0; i < o.changes; i++) {
      // The reply comes once the change is applied: one state change at a time.
      const reply = await sendControl(socket, { command: i % 2 === 0 ? 'ifdown' : 'ifup', interface: 'wan1' }).catch((e: unknown) => {
        throw new Error(`state change ${i + 1} (daemon ${daemon.running ? 'running' : 'exited'}): ${(e as Error).message}\n${daemon.stderr().slice(-2000)}`);
      });
      if (!reply.ok) throw new Error(`state change ${i + 1}: ${reply.message}`);
      if ((i + 1) % o.sampleEvery === 0) out.rssMb.push(rss());
    }
    out.decisionToVerifiedMs = decisionTimes(daemon.stderr());
    if (out.decisionToVerifiedMs.length < o.changes) throw new Error(`${out.decisionToVerifiedMs.length} timing lines for ${o.changes} state changes`);
    o.log(
      `  daemon, ${o.wans} WANs, ${o.rules} rules, ${o.changes} state changes: decision to verified table median ` +
        `${median(out.decisionToVerifiedMs).toFixed(1)} ms; RSS ${out.rssMb.map((m) => m.toFixed(0)).join(' -> ')} MB`,
    );
    return out;
  } finally {
    await daemon.kill(5_000);
    await lab.exec(ns, o.bin, ['stop', '--config', file], { reject: false });
  }
}

/** Every variable the unit's `Environment=` lines set (systemd's syntax: "K=V with spaces" quoted whole, or K=V words). */
export function unitEnvironment(unit: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of unit.matchAll(/^Environment=(.*)$/gm)) {
    for (const word of (line[1] ?? '').matchAll(/"([^"]*)"|(\S+)/g)) {
      const assignment = word[1] ?? word[2] ?? '';
      const eq = assignment.indexOf('=');
      if (eq > 0) env[assignment.slice(0, eq)] = assignment.slice(eq + 1);
    }
  }
  return env;
}
