// Removes exactly what nft-mwan installed: its own table, and ip rules/routes stamped with its protocol.
import type { ResolvedGlobals } from '../config/resolved.js';
import { diffRouting } from '../compile/routing-diff.js';
import { deleteTable, listTable } from '../system/nft.js';
import { applyRoutingOps } from '../system/ip.js';
import type { Runner } from '../system/runner.js';
import { readOwnedRouting } from './discover.js';

export async function stop(run: Runner, globals: ResolvedGlobals): Promise<{ table: string | null; rules: number; routes: number }> {
  const name = globals.table;
  const protocol = globals.routeProtocol;
  const existed = (await listTable(run, 'inet', name)) !== null;
  // The table goes first: no packet is marked any more once routing for the marks disappears.
  if (existed) await deleteTable(run, 'inet', name);
  const owned = await readOwnedRouting(run, protocol);
  const ops = diffRouting(owned, { protocol, tables: [], rules: [], routes: [] });
  if (ops.remove.length > 0) await applyRoutingOps(run, ops.remove);
  return { table: existed ? name : null, rules: owned.rules.length, routes: owned.routes.length };
}
