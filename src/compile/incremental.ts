// The smallest batch that brings an installed table to a plan when only rules changed (a WAN's state, a weight):
import type { NftObject } from '../model/json.js';
// the changed chains flushed and refilled, the state flushes the plan asks for, nothing else. Pure.
import type { NftBatch, NftCommand, Plan } from '../model/plan.js';
import { canonical, imageOfBatch, imageOfListing, type TableImage } from './verify.js';

/**
 * The plan's changes as a batch of their own, or null when the full batch is needed (a chain, set, map or
 * counter added, removed or redefined, or a set's configured elements changed). Unchanged chains are not
 * touched, so a 1,000-rule classify chain is not re-sent when a WAN goes down, and the kernel does
 * less work in the transaction. The result, once applied, lists exactly as the full batch would.
 */
export function incrementalBatch(plan: Pick<Plan, 'nft' | 'table' | 'dynamicSets' | 'stickySets'>, listing: readonly NftObject[]): NftBatch | null {
  const want = imageOfBatch(plan.nft, plan.table.name);
  const have = imageOfListing(listing);
  const sticky = new Set(plan.stickySets);
  // Stale objects to delete, or a sticky set to re-create: the table's shape changes.
  if (plan.nft.nftables.some((cmd) => 'delete' in cmd)) return null;
  const unsticky = (names: string[]) => names.filter((n) => !sticky.has(n));
  if (!sameKeys(want.chains, have.chains) || !sameNames(unsticky(Object.keys(want.sets)), unsticky(Object.keys(have.sets)))) return null;
  // A sticky set the plan declares afresh is not there yet.
  if (Object.keys(want.sets).some((n) => sticky.has(n) && !(n in have.sets))) return null;
  if (!sameNames(plannedCounters(plan.nft, plan.table.name), listedCounters(listing))) return null;
  if (!setsAgree(want, have, new Set(plan.dynamicSets), sticky)) return null;

  const changed = new Set<string>();
  for (const [name, c] of Object.entries(want.chains)) {
    const h = have.chains[name] as TableImage['chains'][string];
    if (canonical(c.spec) !== canonical(h.spec)) return null;
    if (c.rules.length !== h.rules.length || c.rules.some((r, i) => !r.same(h.rules[i]))) changed.add(name);
  }

  const table = plan.table.name;
  const family = plan.table.family;
  const commands: NftCommand[] = [];
  for (const cmd of plan.nft.nftables) {
    const flushSet = (cmd.flush as NftObject | undefined)?.set as NftObject | undefined;
    // A sticky set the plan empties (its WAN went offline) is state to reset, not configuration to compare.
    if (flushSet && flushSet.table === table && plan.stickySets.includes(String(flushSet.name))) commands.push(cmd);
  }
  for (const name of changed) commands.push({ flush: { chain: { family, table, name } } });
  for (const cmd of plan.nft.nftables) {
    const rule = (cmd.add as NftObject | undefined)?.rule as NftObject | undefined;
    if (rule && rule.table === table && changed.has(String(rule.chain))) commands.push(cmd);
  }
  return { nftables: commands };
}

function sameKeys(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return sameNames(Object.keys(a), Object.keys(b));
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  return sa.size === new Set(b).size && b.every((n) => sa.has(n));
}

/** Sets and maps: same definition, and the configured elements already there (run-time and sticky ones aside). */
function setsAgree(want: TableImage, have: TableImage, dynamic: ReadonlySet<string>, sticky: ReadonlySet<string>): boolean {
  for (const [name, s] of Object.entries(want.sets)) {
    const h = have.sets[name] as TableImage['sets'][string];
    if (canonical(s.spec) !== canonical(h.spec)) return false;
    if (sticky.has(name)) continue;
    const present = new Set(h.elements);
    if (dynamic.has(name)) {
      if (!s.elements.every((e) => present.has(e))) return false;
    } else if (s.elements.length !== h.elements.length || !s.elements.every((e) => present.has(e))) {
      return false;
    }
  }
  return true;
}

function plannedCounters(batch: NftBatch, table: string): string[] {
  return batch.nftables.flatMap((cmd) => {
    const c = (cmd.add as NftObject | undefined)?.counter as NftObject | undefined;
    return c && c.table === table ? [String(c.name)] : [];
  });
}

function listedCounters(listing: readonly NftObject[]): string[] {
  return listing.flatMap((item) => {
    const c = item.counter as NftObject | undefined;
    return c ? [String(c.name)] : [];
  });
}
