// What is installed now, compared with what the config compiles to: the data behind `nft-mwan status`.
import type { ResolvedConfig } from '../config/resolved.js';
import type { LinkStates } from '../model/facts.js';
import { diffPlan } from '../compile/verify.js';
import { diffRouting } from '../compile/routing-diff.js';
import type { PlannedInterface, PlannedPolicy } from '../model/plan.js';
import type { Runner } from '../system/runner.js';
import { plan } from './apply.js';
import { readWanCounters } from './counters.js';
import type { WanCounters } from '../model/state.js';

export type InterfaceStatus = 'online' | 'offline' | 'down' | 'disabled';

export interface Status {
  table: string;
  installed: boolean;
  /** True when the installed table and routing are exactly what the config compiles to. */
  inSync: boolean;
  differences: string[];
  /** "down": its device is down or gone, or the live system does not offer it yet (`waiting` says what). */
  interfaces: (PlannedInterface & { state: InterfaceStatus; /** IPv6's own state (track6). */ state6?: InterfaceStatus })[];
  /** What apply would warn about now (each led by its JSON path). */
  warnings: string[];
  policies: PlannedPolicy[];
  /** As IPv6 sees them (empty without an IPv6 WAN). */
  policies6: PlannedPolicy[];
  routing: { rules: number; routes: number; priorities: number[]; tables: number[] };
  /** Per enabled WAN: live connections (conntrack, by mark), bytes and packets of its connections (nft counters). */
  traffic: Record<string, WanCounters>;
}

export async function readStatus(run: Runner, config: ResolvedConfig, states: LinkStates = {}): Promise<Status> {
  const { plan: p, discovery } = await plan(run, config, states);
  const differences: string[] = [];
  if (discovery.listing === null) differences.push(`table inet ${p.table.name} is not installed`);
  else differences.push(...diffPlan(p, discovery.listing));
  const ops = diffRouting(discovery.routing, p.routing);
  const traffic = discovery.listing === null ? {} : await readWanCounters(run, p);
  for (const op of [...ops.add, ...ops.remove]) differences.push(`routing: ${describeOp(op)}`);
  return {
    table: p.table.name,
    installed: discovery.listing !== null,
    inSync: differences.length === 0,
    differences,
    interfaces: p.interfaces.map((i) => {
      const state = (online: boolean): InterfaceStatus => (!i.enabled ? 'disabled' : !i.linkUp ? 'down' : online ? 'online' : 'offline');
      return { ...i, state: state(i.online), ...(i.online6 !== undefined ? { state6: state(i.online6) } : {}) };
    }),
    warnings: p.warnings,
    policies: p.policies,
    policies6: p.policies6,
    traffic,
    routing: {
      rules: discovery.routing.rules.length,
      routes: discovery.routing.routes.length,
      priorities: [...new Set(discovery.routing.rules.map((r) => r.priority))].sort((a, b) => a - b),
      tables: [...new Set(discovery.routing.routes.map((r) => r.table))].sort((a, b) => a - b),
    },
  };
}

function describeOp(op: { op: string; rule?: unknown; route?: unknown }): string {
  const verb = op.op.startsWith('del') ? 'unexpected' : 'missing';
  return `${verb} ${op.op.endsWith('rule') ? 'ip rule' : 'route'} ${JSON.stringify(op.rule ?? op.route)}`;
}
