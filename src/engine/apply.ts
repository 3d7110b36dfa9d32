// Brings the system to a plan: routing additions, one verified nft transaction, routing removals, rollback on failure.
import { compile } from '../compile/compile.js';
import { type LinkStates } from '../model/facts.js';
import type { ResolvedConfig } from '../config/resolved.js';
import type { NftBatch, Plan, RoutingPlan } from '../model/plan.js';
import { diffPlan, spliceChains } from '../compile/verify.js';
import { batchRestoring, batchRestoringChains } from '../compile/restore.js';
import { incrementalBatch } from '../compile/incremental.js';
import { diffRouting } from '../compile/routing-diff.js';
import { MwanError } from '../model/errors.js';
import { applyBatch, listChains, listTable, startBatch, type CommitWatch } from '../system/nft.js';
import { applyRoutingOps } from '../system/ip.js';
import type { Runner } from '../system/runner.js';
import { discover, readOwnedRouting, type Discovery, type IpSnapshot, type OwnedRouting } from './discover.js';
import type { NftObject } from '../model/json.js';
import type { Logger } from '../model/logger.js';
import { applyRouting } from './routing-ops.js';
import { clearIntent, recordIntent } from './journal.js';
import { assertOwned } from './ownership.js';
import { serialized } from './serialize.js';

export interface ApplyResult {
  plan: Plan;
  /** False when everything was already as planned (nothing was run). */
  changed: boolean;
  nftChanged: boolean;
  routingOps: number;
  /** The table as verified after this apply (or as found, when it needed no change): the next apply's `known`. */
  listing: NftObject[] | null;
  /** The ip state as it stands after this apply (null when it changed ip rules or routes): the next apply's `knownIp`. */
  ip: IpSnapshot | null;
}

/** Reads the system and compiles: the plan `apply` would install, without changing anything. */
export async function plan(run: Runner, config: ResolvedConfig, states: LinkStates = {}): Promise<{ plan: Plan; discovery: Discovery }> {
  const discovery = await discover(run, config);
  return { plan: compile(config, discovery.facts, states), discovery };
}

/** What a long-running caller (the daemon) knows from its previous apply and its monitors. */
export interface ApplyOptions {
  /**
   * The table as the caller's previous apply verified it (its `listing`). When the plan against it is
   * incremental (only rules of existing chains change) it stands in for listing the table again; else the
   * table is read afresh. A stale `known` cannot go unnoticed: the read-back after the transaction is real.
   */
  known?: NftObject[] | null;
  /**
   * The ip state the previous apply left (its `ip`), used with `known` instead of reading ip rules, routes
   * and addresses again; only for a caller that hears every change to them (the daemon's `ip monitor`).
   */
  knownIp?: IpSnapshot | null;
  /**
   * The caller hears every nft commit (the daemon's `nft monitor`) and none but its own has been made since
   * `known` was verified: an incremental transaction is then verified by listing the chains it rewrote, the
   * rest of `known` standing as verified. Without it the whole table is read back.
   */
  knownIsCurrent?: boolean;
  /** Sees this apply's transaction commit, so the read-back starts before nft has exited. */
  watch?: CommitWatch;
  /** Where the apply lock and the intent journal live (default: this network namespace's state directory). */
  stateDir?: string;
}

/** Installs the plan for `config`, one apply at a time (see serialized()), finishing or undoing an interrupted one first. */
export async function apply(run: Runner, config: ResolvedConfig, log: Logger, states: LinkStates = {}, o: ApplyOptions = {}): Promise<ApplyResult> {
  return serialized(run, log, o.stateDir, (s) => applyLocked(run, config, log, states, s.repaired === null ? o : { ...o, known: null, knownIp: null }, s.dir));
}

async function applyLocked(run: Runner, config: ResolvedConfig, log: Logger, states: LinkStates, o: ApplyOptions, dir: string): Promise<ApplyResult> {
  const known = o.known ?? null;
  const knownIp = o.knownIp ?? null;
  let discovery = await discover(run, config, known, known === null ? null : knownIp);
  if (discovery.listing !== known) assertOwned(discovery.listing, config.globals.table);
  let p = compile(config, discovery.facts, states);
  // Only the changed chains when nothing else changed (a WAN's state): still one transaction, far smaller.
  let inc = discovery.listing && incrementalBatch(p, discovery.listing);
  if (known !== null && !inc) {
    discovery = await discover(run, config);
    assertOwned(discovery.listing, config.globals.table);
    p = compile(config, discovery.facts, states);
    inc = discovery.listing && incrementalBatch(p, discovery.listing);
  }
  for (const w of p.warnings) log.warn(w);
  const before = discovery.routing;
  const ops = diffRouting(before, p.routing);
  // An empty incremental batch: the table is the plan already.
  const nftChanged = discovery.listing === null || (inc ? inc.nftables.length > 0 : diffPlan(p, discovery.listing).length > 0);
  if (!nftChanged && ops.add.length === 0 && ops.remove.length === 0) {
    log.info(`already up to date (table inet ${p.table.name}, ${p.routing.rules.length} ip rules, ${p.routing.routes.length} routes)`);
    return { plan: p, changed: false, nftChanged: false, routingOps: 0, listing: discovery.listing, ip: discovery.ip };
  }

  // Routes and rules first, so no packet is ever marked for a table that does not exist yet.
  let nftTouched = false;
  let incremental = false;
  let applied: NftBatch = p.nft;
  let verified: NftObject[] | null = discovery.listing;
  const rollback = async (why: unknown): Promise<never> => {
    const problems: string[] = [];
    if (nftTouched) {
      try {
        const { family, name } = p.table;
        const listing = discovery.listing;
        await applyBatch(run, incremental && listing ? batchRestoringChains(family, name, listing, applied) : batchRestoring(family, name, listing));
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
      // The intent stays on disk: the next command tries the repair again.
      throw new MwanError({
        code: 'ROLLBACK_FAILED',
        summary: `apply failed and the previous state could not be fully restored:\n  ${problems.join('\n  ')}`,
        cause: why,
      });
    }
    await clearIntent(dir);
    throw why;
  };

  // Before anything changes: a process killed from here on leaves this for the next command to repair.
  const { nft, table, dynamicSets, stickySets, routing } = p;
  await recordIntent(dir, log, {
    version: 1,
    pid: process.pid,
    at: Date.now(),
    plan: { nft, table, dynamicSets, stickySets, routing },
    families: discovery.routingFamilies,
    snapshot: { listing: discovery.listing, routing: before },
  });
  try {
    if (ops.add.length > 0) await applyRouting(run, ops.add, p, log);
    if (nftChanged) {
      applied = inc ?? p.nft;
      incremental = inc !== null;
      const tx = startBatch(run, applied, { ...(o.watch ? { watch: o.watch } : {}) });
      // Read back as soon as the kernel has committed: nft's own exit follows about 10 ms later.
      const reading = tx.committed.then(() =>
        readBack(run, p, incremental && o.knownIsCurrent === true && discovery.listing === known ? known : null, applied),
      );
      reading.catch(() => undefined);
      let listed: NftObject[] | null;
      try {
        await tx.done;
        listed = await reading;
      } catch (e) {
        // nft may have failed (or been killed at its timeout) after the kernel committed: the table says.
        const after = await afterFailure(run, p, discovery.listing);
        // Restore unless the table is exactly as before (the kernel refused the transaction).
        nftTouched = after !== 'unchanged';
        if (after === 'unchanged' || after === 'other') throw e;
        log.warn(`nft failed after committing (${(e as Error).message.split('\n')[0] ?? ''}); the new table is installed: finishing the routing`);
        listed = after;
      }
      nftTouched = true;
      verified = listed;
      const diff = diffPlan(p, listed ?? []);
      if (diff.length > 0) {
        throw new MwanError({
          code: 'VERIFY_MISMATCH',
          summary: `table inet ${p.table.name} read back differs from the batch applied:\n  ${diff.slice(0, 20).join('\n  ')}`,
        });
      }
    }
    if (ops.remove.length > 0) await applyRouting(run, ops.remove, p, log);
  } catch (error) {
    await rollback(error);
  }
  await clearIntent(dir);
  const n = ops.add.length + ops.remove.length;
  log.info(
    `applied: table inet ${p.table.name} ${nftChanged ? (incremental ? 'updated in one transaction (changed chains only) and verified' : 'replaced in one transaction and verified') : 'unchanged'}; ${n} routing change${n === 1 ? '' : 's'}`,
  );
  return { plan: p, changed: true, nftChanged, routingOps: n, listing: verified, ip: n === 0 ? discovery.ip : null };
}

/**
 * After nft failed: the table read back when it is the new plan whole (nft committed, then failed or hung),
 * 'unchanged' when it is exactly the table from before (same handles: nothing was committed), else 'other'.
 */
async function afterFailure(run: Runner, p: Plan, before: NftObject[] | null): Promise<NftObject[] | 'unchanged' | 'other'> {
  const listed = await listTable(run, p.table.family, p.table.name).catch(() => undefined);
  if (listed === undefined) return 'other';
  if (listed !== null && diffPlan(p, listed).length === 0) return listed;
  return comparable(listed) === comparable(before) ? 'unchanged' : 'other';
}

/** A listing as text without what traffic changes (counter values, set element expiry). */
function comparable(listing: NftObject[] | null): string {
  return JSON.stringify(listing, (k, v: unknown) => (k === 'packets' || k === 'bytes' || k === 'expires' ? undefined : v));
}

/**
 * The table after a transaction. With `trusted` (the listing the incremental `applied` was planned against,
 * changed by nobody since) only the chains it flushed and refilled are listed and spliced into it; any
 * trouble listing them falls back to listing the table.
 */
async function readBack(run: Runner, p: Plan, trusted: NftObject[] | null, applied: NftBatch): Promise<NftObject[] | null> {
  const { family, name } = p.table;
  if (trusted !== null) {
    const chains = applied.nftables.flatMap((cmd) => {
      const c = (cmd.flush as { chain?: { name?: unknown } } | undefined)?.chain;
      return c ? [String(c.name)] : [];
    });
    const fresh = chains.length > 0 ? await listChains(run, family, name, chains) : null;
    if (fresh !== null) return spliceChains(trusted, fresh);
  }
  return listTable(run, family, name);
}

/** Puts nft-mwan's ip rules and routes back to a snapshot taken before a change. */
export async function restoreRouting(run: Runner, snapshot: OwnedRouting, protocol: number, families: readonly (4 | 6)[] = [4, 6]): Promise<void> {
  const now = await readOwnedRouting(run, protocol, families);
  const target: RoutingPlan = { protocol, tables: [], rules: snapshot.rules, routes: snapshot.routes };
  const ops = diffRouting(now, target);
  if (ops.add.length > 0) await applyRoutingOps(run, ops.add);
  if (ops.remove.length > 0) await applyRoutingOps(run, ops.remove);
}
