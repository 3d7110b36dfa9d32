// Adapter: puts the daemon's [WAN address, target address] probe pairs in the table's probe-pair set, with a timeout.
import { probePairSetName, TABLE_FAMILY, type Family } from '../model/names.js';
import { runScript } from './nft.js';
import type { Runner } from './runner.js';

/**
 * One nft transaction per round. `add` alone would keep an existing pair's old timeout (it may expire mid-probe),
 * so each pair is added (nothing if there), deleted and added again with a fresh timeout: the transaction is
 * atomic, so the pair is never missing. Elements only: the daemon's commit watch does not call this a foreign change.
 */
export async function allowProbePairs(
  run: Runner,
  table: string,
  pairs: readonly (readonly [string, string])[],
  seconds: number,
  family: Family = 'ipv4',
): Promise<void> {
  // Two names with one address are one pair: a pair twice in one delete would fail the transaction.
  const unique = [...new Set(pairs.map(([local, remote]) => `${local} . ${remote}`))];
  if (unique.length === 0) return;
  const name = probePairSetName(family);
  const set = `${TABLE_FAMILY} ${table} ${name}`;
  const elems = unique.join(', ');
  const timed = unique.map((pair) => `${pair} timeout ${seconds}s`).join(', ');
  const input = [`add element ${set} { ${elems} }`, `delete element ${set} { ${elems} }`, `add element ${set} { ${timed} }`, ''].join('\n');
  await runScript(run, input, `cannot add probe pairs to set ${name}`);
}
