// `nft-mwan apply`: install the config (or with --print, show the batch and routing plan and change nothing).
import { configOrThrow, loadConfig } from '../config/load.js';
import { apply, plan } from '../engine/apply.js';
import type { CommandContext } from './main.js';

export default async function applyCommand(ctx: CommandContext): Promise<number> {
  const config = configOrThrow(await loadConfig(ctx.configPath));
  if (ctx.values.print) {
    const { plan: p } = await plan(ctx.run, config);
    ctx.out(JSON.stringify({ nftables: p.nft.nftables, routing: p.routing, warnings: p.warnings }, null, 2));
    return 0;
  }
  await apply(ctx.run, config, ctx.log);
  return 0;
}
