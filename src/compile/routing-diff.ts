// Diff between the routing state nft-mwan owns now and the planned one, as ordered ip operations. Pure.
import type { Route, RoutingOp, RoutingPlan, RoutingRule } from '../model/plan.js';

export interface OwnedState {
  rules: readonly RoutingRule[];
  routes: readonly Route[];
}

const ruleKey = (r: RoutingRule) =>
  JSON.stringify([
    r.family,
    r.priority,
    r.fwmark ?? null,
    r.fwmask ?? null,
    r.src ?? null,
    r.action,
    r.table ?? null,
    r.suppressPrefixLength ?? null,
    r.protocol,
  ]);
/** Routes are identified by family, table and destination; the rest is what `replace` updates. */
const routeSlot = (r: Route) => JSON.stringify([r.family, r.table, r.dst]);
const routeKey = (r: Route) => JSON.stringify([r.family, r.table, r.dst, r.gateway ?? null, r.dev, r.protocol, r.metric ?? null]);

/**
 * `add`: routes first, then rules, so a rule never points at an empty table.
 * `remove`: stale rules first, then stale routes. Identical state gives no ops (idempotent).
 */
export function diffRouting(current: OwnedState, desired: RoutingPlan): { add: RoutingOp[]; remove: RoutingOp[] } {
  const add: RoutingOp[] = [];
  const remove: RoutingOp[] = [];
  const currentRoutes = new Map(current.routes.map((r) => [routeSlot(r), r]));
  const desiredSlots = new Set(desired.routes.map(routeSlot));
  for (const r of desired.routes) {
    const now = currentRoutes.get(routeSlot(r));
    if (!now || routeKey(now) !== routeKey(r)) add.push({ op: 'replace-route', route: r });
  }
  const currentRules = new Set(current.rules.map(ruleKey));
  const desiredRules = new Set(desired.rules.map(ruleKey));
  for (const r of desired.rules) if (!currentRules.has(ruleKey(r))) add.push({ op: 'add-rule', rule: r });
  for (const r of current.rules) if (!desiredRules.has(ruleKey(r))) remove.push({ op: 'del-rule', rule: r });
  for (const r of current.routes) if (!desiredSlots.has(routeSlot(r))) remove.push({ op: 'del-route', route: r });
  return { add, remove };
}
