// Failover and recovery trials: from a failure (an ISP dropping everything upstream, or the WAN link's
// carrier going down) until the kernel's installed policy stops sending new connections to that WAN,
// and from the repair until it sends them again. Read from the table itself, every 10 ms.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { endpoint, startTcpHold } from '../../lab/agents.js';
import type { BackgroundProcess, Lab } from '../../lab/netns.js';
import { untilWan2InPolicy } from '../../lab/policy.js';
import { LAB_NET, type MultiWan } from '../../lab/topology.js';

const [SRV1, SRV2] = LAB_NET.server.addrs as [string, string];

export type FailureKind = 'upstream' | 'carrier';
export interface Trial {
  failoverMs: number;
  recoveryMs: number;
}

export const failoverConfig = (track: Record<string, number>) => ({
  interfaces: {
    wan1: { device: 'wan1', gateway: 'auto', track: { targets: [SRV1], ...track } },
    wan2: { device: 'wan2', gateway: 'auto', track: { targets: [SRV1], ...track } },
  },
  policies: {
    balanced: { members: [{ interface: 'wan1' }, { interface: 'wan2' }] },
    wan1_first: {
      members: [
        { interface: 'wan1', metric: 1 },
        { interface: 'wan2', metric: 2 },
      ],
    },
  },
  rules: [
    { name: 'hold', destIp: [`${SRV2}/32`], policy: 'wan1_first' },
    { name: 'default', policy: 'balanced' },
  ],
});

/**
 * Runs the daemon with `track`, then `trials` failures of each kind, interleaved (A B A B ...).
 * A long-lived flow on wan1 echoes every 20 ms throughout; its longest pause is returned.
 */
export async function runFailover(
  lab: Lab,
  net: MultiWan,
  o: { track: Record<string, number>; trials: number; kinds: FailureKind[]; bin: string; log: (l: string) => void; label: string; hold?: boolean },
): Promise<{ trials: Record<FailureKind, Trial[]>; holdMaxGapMs: number | null }> {
  const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-bench-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(failoverConfig(o.track)));
  const daemon: BackgroundProcess = lab.spawn('gw', process.execPath, [o.bin, 'daemon', '--config', file, '--state-dir', join(dir, 'state'), '--quiet']);
  const out: Record<FailureKind, Trial[]> = { upstream: [], carrier: [] };
  try {
    await untilWan2InPolicy(lab, true, 30_000);
    const hold = o.hold === false ? null : await startTcpHold(lab, 'lan', { target: endpoint(SRV2, 5001), intervalMs: 20 });
    // A generous limit: mwan3's defaults need about a minute each way.
    const limit = 180_000;
    for (let i = 0; i < o.trials; i++) {
      for (const kind of o.kinds) {
        // Let a round or two pass, so the failure lands at a random point of the probe cycle.
        await new Promise((r) => setTimeout(r, 300 + Math.random() * 700));
        if (kind === 'upstream') await net.setUpstream(2, 'drop');
        else await net.setCarrier(2, 'down');
        const failoverMs = await untilWan2InPolicy(lab, false, limit);
        await new Promise((r) => setTimeout(r, 300 + Math.random() * 700));
        if (kind === 'upstream') await net.setUpstream(2, 'up');
        else await net.setCarrier(2, 'up');
        const recoveryMs = await untilWan2InPolicy(lab, true, limit);
        out[kind].push({ failoverMs, recoveryMs });
        o.log(`  ${o.label} ${kind} trial ${i + 1}/${o.trials}: failover ${(failoverMs / 1000).toFixed(2)} s, recovery ${(recoveryMs / 1000).toFixed(2)} s`);
      }
    }
    if (!hold) return { trials: out, holdMaxGapMs: null };
    const summary = await hold.stop();
    if (summary.closed || summary.mismatched > 0) throw new Error(`the wan1 flow was disturbed: ${JSON.stringify(summary)}`);
    return { trials: out, holdMaxGapMs: summary.maxGapMs };
  } finally {
    await daemon.kill(5_000);
    await lab.exec('gw', o.bin, ['stop', '--config', file], { reject: false });
  }
}
