// Turns a table listed by `nft -j list table` back into a batch that recreates it exactly (for rollback).
import type { NftBatch, NftCommand } from '../model/plan.js';
import type { NftObject } from '../model/json.js';

const DROP_KEYS = new Set(['handle', 'expires', 'size']);

function strip(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(strip);
  if (value !== null && typeof value === 'object') {
    const out: NftObject = {};
    for (const [k, v] of Object.entries(value as NftObject)) if (!DROP_KEYS.has(k)) out[k] = strip(v);
    return out;
  }
  return value;
}

/**
 * A batch that replaces table `name` with the listed content: delete and re-add in one transaction,
 * so a rollback is as atomic as the apply it undoes. A null listing means "there was no table".
 */
export function batchRestoring(family: string, name: string, listing: readonly NftObject[] | null): NftBatch {
  const ref = { family, name };
  // add-then-delete works whether or not the table exists now.
  const commands: NftCommand[] = [{ add: { table: ref } }, { delete: { table: ref } }];
  if (listing === null) return { nftables: commands };
  commands.push({ add: { table: ref } });
  const chains: NftCommand[] = [];
  const sets: NftCommand[] = [];
  const rules: NftCommand[] = [];
  for (const item of listing) {
    const [kind, body] = Object.entries(item)[0] as [string, NftObject];
    const o = strip(body) as NftObject;
    if (kind === 'chain') chains.push({ add: { chain: o } });
    // Counters keep their values (packets, bytes are part of the listed object).
    else if (kind === 'set' || kind === 'map' || kind === 'counter') sets.push({ add: { [kind]: o } });
    else if (kind === 'rule') rules.push({ add: { rule: o } });
  }
  // Chains before rules that jump to them, sets and counters before rules that reference them.
  return { nftables: [...commands, ...chains, ...sets, ...rules] };
}

/**
 * Undoes an incremental batch: the chains it flushed get back their rules as listed before it ran (a
 * sticky set it emptied stays empty: those entries belonged to a WAN that went offline).
 */
export function batchRestoringChains(family: string, table: string, listing: readonly NftObject[], incremental: NftBatch): NftBatch {
  const chains = incremental.nftables.flatMap((c) => {
    const chain = (c.flush as NftObject | undefined)?.chain as NftObject | undefined;
    return chain ? [String(chain.name)] : [];
  });
  const commands: NftCommand[] = chains.map((name) => ({ flush: { chain: { family, table, name } } }));
  for (const item of listing) {
    const rule = item.rule as NftObject | undefined;
    if (rule && chains.includes(String(rule.chain))) commands.push({ add: { rule: strip(rule) } });
  }
  return { nftables: commands };
}
