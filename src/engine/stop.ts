// Removes exactly what nft-mwan installed: its own table, and ip rules/routes stamped with its protocol.
import type { ResolvedGlobals } from '../config/resolved.js';
import { diffRouting } from '../compile/routing-diff.js';
import { deleteTable, listTable } from '../system/nft.js';
import { applyRoutingOps } from '../system/ip.js';
import type { Runner } from '../system/runner.js';
import type { Logger } from '../model/logger.js';
import { readOwnedRouting } from './discover.js';
import { assertOwned } from './ownership.js';
import { serialized } from './serialize.js';

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** Under the apply lock (an interrupted apply is repaired first); refuses a table nft-mwan did not make. */
export async function stop(
  run: Runner,
  globals: ResolvedGlobals,
  o: { log?: Logger; stateDir?: string } = {},
): Promise<{ table: string | null; rules: number; routes: number }> {
  return serialized(run, o.log ?? quiet, o.stateDir, async () => {
    const name = globals.table;
    const protocol = globals.routeProtocol;
    const listing = await listTable(run, 'inet', name);
    assertOwned(listing, name);
    // The table goes first: no packet is marked any more once routing for the marks disappears.
    if (listing !== null) await deleteTable(run, 'inet', name);
    const owned = await readOwnedRouting(run, protocol);
    const ops = diffRouting(owned, { protocol, tables: [], rules: [], routes: [] });
    if (ops.remove.length > 0) await applyRoutingOps(run, ops.remove);
    return { table: listing !== null ? name : null, rules: owned.rules.length, routes: owned.routes.length };
  });
}

/** The daemon's --stop-on-exit: removes what nft-mwan installed, saying what went; a failure is logged, not thrown. */
export async function removeOnExit(run: Runner, globals: ResolvedGlobals, log: Logger, stateDir: string): Promise<void> {
  try {
    const r = await stop(run, globals, { log, stateDir });
    log.info(`removed table ${r.table ?? '(none)'}, ${r.rules} ip rules, ${r.routes} routes`);
  } catch (e) {
    log.error(`could not remove nft-mwan's rules: ${(e as Error).message}`);
  }
}
