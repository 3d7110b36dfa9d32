// `nft-mwan check`: validate, compile against the live system, and let nft check the batch; changes nothing.
import { configOrThrow, loadConfig } from '../config/load.js';
import { plan } from '../engine/apply.js';
import { applyBatch } from '../system/nft.js';
import type { CommandContext } from './context.js';

export default async function check(ctx: CommandContext): Promise<number> {
  const config = configOrThrow(await loadConfig(ctx.configPath));
  const { plan: p } = await plan(ctx.run, config);
  for (const w of p.warnings) ctx.log.warn(w);
  // `nft -c` runs the whole transaction in the kernel and aborts it: what apply would do, minus the commit.
  await applyBatch(ctx.run, p.nft, { check: true });
  const n = (k: number, what: string) => `${k} ${what}${k === 1 ? '' : 's'}`;
  // Down until the live system offers them (each warned about above): apply would install them so.
  const waiting = p.interfaces.filter((i) => i.waiting !== undefined).length;
  ctx.out(
    `${ctx.configPath}: OK: ${n(p.interfaces.length, 'interface')}${waiting > 0 ? ` (${waiting} down for now)` : ''}, ` +
      `${n(p.policies.length, 'policy').replace('policys', 'policies')}, ` +
      `${n(config.rules.length, 'rule')}; nft accepted the ${p.nft.nftables.length}-command batch (nothing was changed)`,
  );
  return 0;
}
