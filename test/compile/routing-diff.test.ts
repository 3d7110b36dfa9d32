// The routing diff: ordered, minimal, idempotent.
import { describe, expect, it } from 'vitest';
import { diffRouting } from '../../src/compile/routing-diff.js';
import type { Route, RoutingPlan, RoutingRule } from '../../src/model/plan.js';

const rule = (mark: number, priority: number, extra: Partial<RoutingRule> = {}): RoutingRule => ({
  family: 4,
  priority,
  fwmark: mark,
  fwmask: 0x3f00,
  action: 'lookup',
  table: 1000 + (mark >> 8),
  protocol: 77,
  ...extra,
});
const route = (table: number, gateway: string): Route => ({ family: 4, table, dst: 'default', gateway, dev: `wan${table - 1000}`, protocol: 77 });
const plan = (rules: RoutingRule[], routes: Route[]): RoutingPlan => ({ protocol: 77, tables: routes.map((r) => r.table), rules, routes });

describe('diffRouting', () => {
  it('changes nothing when the installed state is the plan', () => {
    const p = plan([rule(0x100, 1001)], [route(1001, '198.51.100.1')]);
    expect(diffRouting(p, p)).toEqual({ add: [], remove: [] });
  });

  it('adds routes before the rules that point at them', () => {
    const d = diffRouting({ rules: [], routes: [] }, plan([rule(0x100, 1001)], [route(1001, '198.51.100.1')]));
    expect(d.add.map((o) => o.op)).toEqual(['replace-route', 'add-rule']);
  });

  it('replaces a route whose gateway changed instead of deleting it', () => {
    const d = diffRouting({ rules: [], routes: [route(1001, '198.51.100.1')] }, plan([], [route(1001, '198.51.100.5')]));
    expect(d).toEqual({ add: [{ op: 'replace-route', route: route(1001, '198.51.100.5') }], remove: [] });
  });

  it('removes stale rules before stale routes', () => {
    const d = diffRouting({ rules: [rule(0x100, 1001)], routes: [route(1001, '198.51.100.1')] }, plan([], []));
    expect(d.remove.map((o) => o.op)).toEqual(['del-rule', 'del-route']);
  });

  it('treats a rule with another action or priority as a different rule', () => {
    const d = diffRouting(
      { rules: [rule(0x100, 1002, { action: 'blackhole', table: undefined })], routes: [] },
      plan([rule(0x100, 1002, { action: 'unreachable', table: undefined })], []),
    );
    expect(d.add).toHaveLength(1);
    expect(d.remove).toHaveLength(1);
  });
});
