// Brings the system to a plan: routing additions, one verified nft transaction, routing removals, rollback on failure.
import { compile, type LinkStates } from '../compile/compile.js';
import type { NftMwanConfig } from '../generated/config.js';
import type { Plan, RoutingPlan } from '../compile/plan.js';
import { diffPlan } from '../compile/verify.js';
import { batchRestoring } from '../compile/restore.js';
import { incrementalBatch } from '../compile/incremental.js';
import { diffRouting } from '../compile/routing-diff.js';
import { MwanError } from '../errors.js';
import { applyBatch, listTable } from '../system/nft.js';
import { applyRoutingOps } from '../system/ip.js';
import type { Runner } from '../system/runner.js';
import { discover, readOwnedRouting, type Discovery, type OwnedRouting } from './discover.js';

export interface Logger {
  debug(m: string): void;
  info(m: string): void;
  warn(m: string): void;
}

export interface ApplyResult {
  plan: Plan;
  /** False when everything was already as planned (nothing was run). */
  changed: boolean;
  nftChanged: boolean;
  routingOps: number;
}

/** Reads the system and compiles: the plan `apply` would install, without changing anything. */
export async function plan(run: Runner, config: NftMwanConfig, states: LinkStates = {}): Promise<{ plan: Plan; discovery: Discovery }> {
  const discovery = await discover(run, config);
  return { plan: compile(config, discovery.facts, states), discovery };
}

export async function apply(run: Runner, config: NftMwanConfig, log: Logger, states: LinkStates = {}): Promise<ApplyResult> {
  const { plan: p, discovery } = await plan(run, config, states);
  for (const w of p.warnings) log.warn(w);
  const before = discovery.routing;
  const ops = diffRouting(before, p.routing);
  const nftChanged = discovery.listing === null || diffPlan(p, discovery.listing).length > 0;
  if (!nftChanged && ops.add.length === 0 && ops.remove.length === 0) {
    log.info(`already up to date (table inet ${p.table.name}, ${p.routing.rules.length} ip rules, ${p.routing.routes.length} routes)`);
    return { plan: p, changed: false, nftChanged: false, routingOps: 0 };
  }

  // Routes and rules first, so no packet is ever marked for a table that does not exist yet.
  let nftTouched = false;
  let incremental = false;
  const rollback = async (why: unknown): Promise<never> => {
    const problems: string[] = [];
    if (nftTouched) {
      try {
        await applyBatch(run, batchRestoring(p.table.family, p.table.name, discovery.listing));
      } catch (e) {
        problems.push(`restoring table inet ${p.table.name}: ${(e as Error).message}`);
      }
    }
    try {
      await restoreRouting(run, before, p.routing.protocol, discovery.routingFamilies);
    } catch (e) {
      problems.push(`restoring ip rules and routes: ${(e as Error).message}`);
    }
    if (problems.length > 0) {
      throw new MwanError({
        code: 'ROLLBACK_FAILED',
        summary: `apply failed and the previous state could not be fully restored:\n  ${problems.join('\n  ')}`,
        cause: why,
      });
    }
    throw why;
  };

  try {
    if (ops.add.length > 0) await applyRoutingOps(run, ops.add);
    if (nftChanged) {
      // Only the changed chains when nothing else changed (a WAN's state): still one transaction, far smaller.
      const batch = (discovery.listing && incrementalBatch(p, discovery.listing)) ?? p.nft;
      incremental = batch !== p.nft;
      await applyBatch(run, batch);
      // Only now is there something to undo: a failed transaction changes nothing.
      nftTouched = true;
      const listed = await listTable(run, p.table.family, p.table.name);
      const diff = diffPlan(p, listed ?? []);
      if (diff.length > 0) {
        throw new MwanError({
          code: 'VERIFY_MISMATCH',
          summary: `table inet ${p.table.name} read back differs from the batch applied:\n  ${diff.slice(0, 20).join('\n  ')}`,
        });
      }
    }
    if (ops.remove.length > 0) await applyRoutingOps(run, ops.remove);
  } catch (error) {
    await rollback(error);
  }
  const n = ops.add.length + ops.remove.length;
  log.info(
    `applied: table inet ${p.table.name} ${nftChanged ? (incremental ? 'updated in one transaction (changed chains only) and verified' : 'replaced in one transaction and verified') : 'unchanged'}; ${n} routing change${n === 1 ? '' : 's'}`,
  );
  return { plan: p, changed: true, nftChanged, routingOps: n };
}

/** Puts nft-mwan's ip rules and routes back to a snapshot taken before a change. */
export async function restoreRouting(run: Runner, snapshot: OwnedRouting, protocol: number, families: readonly (4 | 6)[] = [4, 6]): Promise<void> {
  const now = await readOwnedRouting(run, protocol, families);
  const target: RoutingPlan = { protocol, tables: [], rules: snapshot.rules, routes: snapshot.routes };
  const ops = diffRouting(now, target);
  if (ops.add.length > 0) await applyRoutingOps(run, ops.add);
  if (ops.remove.length > 0) await applyRoutingOps(run, ops.remove);
}

