// Carries out the ledger's conntrack deletions after an apply, one WAN after the other, saying what went.
import type { Logger } from '../model/logger.js';
import type { LinkState } from '../model/facts.js';
import { flushByMark, flushUnanswered, UDP_DELETE_LIMIT } from '../system/conntrack.js';
import type { Runner } from '../system/runner.js';
import type { FlushOrder } from './ledger.js';
import { keyOf } from '../model/tracker-keys.js';

/** `stateOf`: the WAN's state now (by tracker key); one that moved on during an earlier deletion is skipped (its next apply flushes). */
export async function runFlushes(
  run: Runner,
  orders: readonly FlushOrder[],
  mask: number,
  stateOf: (name: string) => LinkState | undefined,
  log: Logger,
): Promise<void> {
  for (const f of orders) {
    if (stateOf(keyOf(f)) !== f.to) continue;
    const family = f.family === undefined ? '' : ` (${f.family})`;
    try {
      if (f.all) {
        const n = await flushByMark(run, f.mark, mask, f.family);
        log.info(
          `${f.name}: deleted ${n} ${f.family ?? ''}${f.family ? ' ' : ''}conntrack entr${n === 1 ? 'y' : 'ies'} marked for it (flushConntrack ${f.trigger})`,
        );
        continue;
      }
      const { tcp, udp, udpLeft } = await flushUnanswered(run, f.mark, mask, f.family);
      if (tcp > 0)
        log.info(`${f.name}: deleted ${tcp} unanswered TCP connection attempt${tcp === 1 ? '' : 's'} marked for it (SYN_SENT), so they are balanced again`);
      if (udp > 0)
        log.info(
          `${f.name}: deleted ${udp} UDP flow${udp === 1 ? '' : 's'} marked for it that never got a reply, so ${udp === 1 ? 'its' : 'their'} next packets are balanced again`,
        );
      if (udpLeft > 0)
        log.warn(`${f.name}: ${udpLeft} more unreplied UDP flows marked for it were left to expire (at most ${UDP_DELETE_LIMIT} are deleted per event)`);
    } catch (e) {
      log.warn(`${f.name}${family}: ${f.all ? 'conntrack flush' : 'deleting its unanswered connection attempts'} failed: ${(e as Error).message}`);
    }
  }
}
