// Per-WAN traffic figures read from the kernel: live connections by conntrack mark, bytes and packets from nft counters.
import { counterName } from '../model/names.js';
import type { Plan } from '../model/plan.js';
import type { WanCounters } from '../model/state.js';
import type { Runner } from '../system/runner.js';
import { listCounters } from '../system/nft.js';
import type { NftObject } from '../model/json.js';

export async function readWanCounters(run: Runner, plan: Pick<Plan, 'table' | 'markMask' | 'interfaces'>): Promise<Record<string, WanCounters>> {
  const [listed, tracked] = await Promise.all([
    listCounters(run, plan.table.family, plan.table.name),
    // One listing for every WAN: conntrack prints each entry's mark, counted here by its mask bits.
    run('conntrack', ['-L']),
  ]);
  const counters = new Map<string, { packets: number; bytes: number }>();
  if (listed.exitCode === 0) {
    for (const item of (JSON.parse(listed.stdout || '{"nftables":[]}') as { nftables: NftObject[] }).nftables) {
      const c = item.counter as NftObject | undefined;
      if (c && typeof c.name === 'string') counters.set(c.name, { packets: Number(c.packets), bytes: Number(c.bytes) });
    }
  }
  const byMark = new Map<number, number>();
  const conntrackOk = tracked.exitCode === 0;
  if (conntrackOk) {
    for (const m of tracked.stdout.matchAll(/\bmark=(\d+)/g)) {
      const mark = Number(m[1]) & plan.markMask;
      byMark.set(mark, (byMark.get(mark) ?? 0) + 1);
    }
  }
  const out: Record<string, WanCounters> = {};
  for (const i of plan.interfaces) {
    if (!i.enabled) continue;
    const rx = counters.get(counterName('rx', i.name));
    const tx = counters.get(counterName('tx', i.name));
    out[i.name] = {
      connections: conntrackOk ? (byMark.get(i.mark) ?? 0) : null,
      rxBytes: rx?.bytes ?? null,
      txBytes: tx?.bytes ?? null,
      rxPackets: rx?.packets ?? null,
      txPackets: tx?.packets ?? null,
    };
  }
  return out;
}
