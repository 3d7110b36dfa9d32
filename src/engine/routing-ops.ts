// Routing changes as apply makes them: the lines sent to ip logged (-v), and ip's refusal mapped back to the
// interfaces (and their JSON paths) the failed batch concerned.
import { MwanError, type ConfigIssue } from '../model/errors.js';
import type { Logger } from '../model/logger.js';
import type { Plan, RoutingOp } from '../model/plan.js';
import { applyRoutingOps, routeArgs, ruleArgs } from '../system/ip.js';
import type { Runner } from '../system/runner.js';

/** The `ip -batch` line of one op, for display (the adapter builds the real one from the same arguments). */
export function describeOp(op: RoutingOp): string {
  if (op.op === 'add-rule' || op.op === 'del-rule') return ['rule', op.op === 'add-rule' ? 'add' : 'del', ...ruleArgs(op.rule)].join(' ');
  return ['route', op.op === 'replace-route' ? 'replace' : 'del', ...routeArgs(op.route)].join(' ');
}

/** The JSON path of the interface an op concerns: by its table, or by its mark; '' for the shared rules. */
export function opPath(op: RoutingOp, p: Plan): string {
  const of = (hit: Plan['interfaces'][number] | undefined) => (hit ? `/interfaces/${hit.name}` : '');
  if ('route' in op) return of(p.interfaces.find((i) => i.table === op.route.table || i.device === op.route.dev));
  const r = op.rule;
  return of(p.interfaces.find((i) => (r.table !== undefined && r.table === i.table) || (r.fwmark !== undefined && r.fwmark === i.mark)));
}

/**
 * Applies ops one family at a time (as the adapter does); when ip refuses a family's batch, the error names
 * each interface that batch concerned with its path and the lines it sent (ip's stderr says which line failed).
 */
export async function applyRouting(run: Runner, ops: readonly RoutingOp[], p: Plan, log: Logger): Promise<void> {
  for (const family of [4, 6] as const) {
    const mine = ops.filter((o) => ('rule' in o ? o.rule.family : o.route.family) === family);
    if (mine.length === 0) continue;
    for (const op of mine) log.debug(`ip -${family} -batch: ${describeOp(op)}`);
    try {
      await applyRoutingOps(run, mine);
    } catch (e) {
      if (!(e instanceof MwanError) || e.code !== 'COMMAND_FAILED') throw e;
      // Routes fail on the live system (a device gone, a gateway unreachable); rules only when nothing else could.
      const routes = mine.filter((o) => 'route' in o);
      const issues: ConfigIssue[] = (routes.length > 0 ? routes : mine).map((op) => ({ path: opPath(op, p), message: describeOp(op) }));
      const names = [...new Set(issues.map((i) => i.path.replace('/interfaces/', '')).filter((n) => n !== ''))];
      throw new MwanError({
        code: e.code,
        summary: `${e.summary}${names.length > 0 ? ` for interface${names.length === 1 ? '' : 's'} ${names.join(', ')}` : ''} (IPv${family}); the lines sent:`,
        issues,
        ...(e.command === undefined ? {} : { command: e.command }),
        ...(e.exitCode === undefined ? {} : { exitCode: e.exitCode }),
        ...(e.stderr === undefined ? {} : { stderr: e.stderr }),
        cause: e,
      });
    }
  }
}
