// Adapter around iproute2 `ip -j`: read ip rules and routes, apply rule/route changes as one `ip -batch`.
import { MwanError } from '../model/errors.js';
import type { IpFamily, Route, RoutingOp, RoutingRule } from '../model/plan.js';
import { commandLine, runChecked, type Runner } from './runner.js';
import type { JsonObject } from '../model/json.js';
import { protocolNumber } from './rt-protos.js';

/** A rule as iproute2 reports it; foreign rules keep whatever we do not model in `raw`. */
export interface ListedRule extends Omit<RoutingRule, 'protocol' | 'action' | 'table'> {
  action: RoutingRule['action'] | 'other';
  table?: number | string;
  /** Numeric rt protocol (a name iproute2 printed mapped back), or undefined when it printed none or an unknown name. */
  protocol?: number;
  raw: JsonObject;
}

export interface MainRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  metric?: number;
  scope?: string;
  type?: string;
}

const num = (v: unknown): number | undefined => {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^(0x[0-9a-f]+|\d+)$/i.test(v)) return Number(v);
  return undefined;
};

function familyFlag(family: IpFamily): string {
  return family === 4 ? '-4' : '-6';
}

export async function readRules(run: Runner, family: IpFamily): Promise<ListedRule[]> {
  const r = await runChecked(run, 'cannot read ip rules', 'ip', ['-j', familyFlag(family), 'rule', 'show']);
  return parseRules(r.stdout, family);
}

function parseRules(stdout: string, family: IpFamily): ListedRule[] {
  return (JSON.parse(stdout || '[]') as JsonObject[]).map((o) => {
    const action = o.action === undefined ? 'lookup' : o.action === 'unreachable' || o.action === 'blackhole' ? o.action : 'other';
    // ip -j gives a table as a number or a name (a string); String() only types the unknown JSON value.
    // eslint-disable-next-line @typescript-eslint/no-base-to-string
    const table = o.table === undefined ? undefined : o.table === 'main' ? 'main' : (num(o.table) ?? String(o.table));
    const rule: ListedRule = { family, priority: Number(o.priority), action, raw: o };
    const fwmark = num(o.fwmark);
    if (fwmark !== undefined) {
      rule.fwmark = fwmark;
      // iproute2 omits the mask when it is 0xffffffff.
      rule.fwmask = num(o.fwmask) ?? 0xffffffff;
    }
    // iproute2 prints `from A/N` as src "A" and srclen N; "all" is no match at all.
    if (typeof o.src === 'string' && o.src !== 'all') rule.src = `${o.src}/${typeof o.srclen === 'number' ? o.srclen : family === 4 ? 32 : 128}`;
    if (table !== undefined) rule.table = table;
    if (typeof o.suppress_prefixlen === 'number') rule.suppressPrefixLength = o.suppress_prefixlen;
    // `proto dhcp` for 16: a named protocol is still a number.
    const protocol = protocolNumber(o.protocol);
    if (protocol !== undefined) rule.protocol = protocol;
    return rule;
  });
}

/** Routes stamped with `protocol`, in every table but the kernel's own (local, main, default). */
export async function readRoutesWithProtocol(run: Runner, family: IpFamily, protocol: number): Promise<Route[]> {
  const r = await runChecked(run, 'cannot read routes', 'ip', ['-j', familyFlag(family), 'route', 'show', 'table', 'all', 'proto', String(protocol)]);
  return parseOwnedRoutes(r.stdout, family, protocol);
}

function parseOwnedRoutes(stdout: string, family: IpFamily, protocol: number): Route[] {
  return (JSON.parse(stdout || '[]') as JsonObject[]).flatMap((o) => {
    const table = num(o.table);
    if (table === undefined) return []; // main/local/default are never nft-mwan's
    const route: Route = { family, table, dst: String(o.dst), dev: String(o.dev), protocol };
    if (typeof o.gateway === 'string') route.gateway = o.gateway;
    // The kernel gives IPv6 routes metric 1024 when none is set: that is "no metric" as planned.
    if (typeof o.metric === 'number' && !(family === 6 && o.metric === 1024)) route.metric = o.metric;
    return [route];
  });
}

export async function readMainRoutes(run: Runner, family: IpFamily): Promise<MainRoute[]> {
  const r = await runChecked(run, 'cannot read the main routing table', 'ip', ['-j', familyFlag(family), 'route', 'show', 'table', 'main']);
  return parseMainRoutes(r.stdout);
}

function parseMainRoutes(stdout: string): MainRoute[] {
  return (JSON.parse(stdout || '[]') as JsonObject[]).flatMap((o) => {
    const route: MainRoute = { dst: String(o.dst) };
    if (typeof o.gateway === 'string') route.gateway = o.gateway;
    if (typeof o.dev === 'string') route.dev = o.dev;
    if (typeof o.metric === 'number') route.metric = o.metric;
    if (typeof o.scope === 'string') route.scope = o.scope;
    if (typeof o.type === 'string') route.type = o.type;
    // A multipath route (two routers advertising on one link, or several links) lists its next hops apart: one
    // route per next hop, in the kernel's order, so a WAN finds the ones through its own device.
    const hops = Array.isArray(o.nexthops) ? (o.nexthops as JsonObject[]) : [];
    if (hops.length === 0) return [route];
    return hops.map((h) => ({
      ...route,
      ...(typeof h.gateway === 'string' ? { gateway: h.gateway } : {}),
      ...(typeof h.dev === 'string' ? { dev: h.dev } : {}),
    }));
  });
}

const hex = (n: number) => `0x${n.toString(16)}`;

/**
 * Every token goes on one batch line, read by iproute2's own splitter: white space ends a token (a newline
 * starts a new command), '#' starts a comment that drops the rest of the line, quotes and backslashes are
 * taken apart. The config schema already refuses such device names; this is the second line of defence.
 */
function token(value: string | number): string {
  const s = String(value);
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses.
  if (!/^[^\s\x00-\x1f\x7f#"'\\]+$/.test(s)) {
    throw new MwanError({
      code: 'INTERNAL',
      summary: `refusing to pass ${JSON.stringify(s)} to ip -batch: white space, control characters, '#', quotes and backslashes would change the line`,
    });
  }
  return s;
}

export function ruleArgs(rule: RoutingRule): string[] {
  const args = ['priority', token(rule.priority)];
  if (rule.src !== undefined) args.push('from', token(rule.src));
  if (rule.fwmark !== undefined) args.push('fwmark', `${hex(rule.fwmark)}/${hex(rule.fwmask ?? 0xffffffff)}`);
  if (rule.action === 'lookup') {
    args.push('lookup', token(rule.table ?? 'main'));
    if (rule.suppressPrefixLength !== undefined) args.push('suppress_prefixlength', token(rule.suppressPrefixLength));
  } else {
    args.push(rule.action);
  }
  args.push('protocol', token(rule.protocol));
  return args;
}

export function routeArgs(route: Route): string[] {
  const args = [token(route.dst)];
  if (route.gateway) args.push('via', token(route.gateway));
  args.push('dev', token(route.dev), 'table', token(route.table), 'proto', token(route.protocol));
  if (route.metric !== undefined) args.push('metric', token(route.metric));
  return args;
}

function opLine(op: RoutingOp): string {
  switch (op.op) {
    case 'add-rule':
      return ['rule', 'add', ...ruleArgs(op.rule)].join(' ');
    case 'del-rule':
      return ['rule', 'del', ...ruleArgs(op.rule)].join(' ');
    case 'replace-route':
      return ['route', 'replace', ...routeArgs(op.route)].join(' ');
    case 'del-route':
      return ['route', 'del', ...routeArgs(op.route)].join(' ');
  }
}

/**
 * Applies ops in order, one `ip -batch` per family (iproute2 6.1 batch lines cannot carry -4/-6).
 * Stops at the first failure; callers re-read the state and reconcile rather than parse which line failed.
 */
export async function applyRoutingOps(run: Runner, ops: readonly RoutingOp[]): Promise<void> {
  for (const family of [4, 6] as const) {
    const lines = ops.filter((o) => ('rule' in o ? o.rule.family : o.route.family) === family).map(opLine);
    if (lines.length === 0) continue;
    await runChecked(run, 'ip rejected a routing change', 'ip', [familyFlag(family), '-batch', '-'], { input: `${lines.join('\n')}\n` });
  }
}

export interface AddressFacts {
  /** The first global address of each device that has one. */
  byDevice: Map<string, string>;
  /** Every address of the family, on any device. */
  all: string[];
}

function parseAddresses(stdout: string, family: IpFamily): AddressFacts {
  const byDevice = new Map<string, string>();
  const all: string[] = [];
  const want = family === 4 ? 'inet' : 'inet6';
  for (const link of JSON.parse(stdout || '[]') as JsonObject[]) {
    const info = ((link.addr_info as JsonObject[] | undefined) ?? []).filter((a) => a.family === want && typeof a.local === 'string');
    all.push(...info.map((a) => String(a.local)));
    const global = info.find((a) => a.scope === 'global');
    if (typeof link.ifname === 'string' && global) byDevice.set(link.ifname, String(global.local));
  }
  return { byDevice, all };
}

export interface LinkInfo {
  /** Administratively up (UP) and with carrier (LOWER_UP). */
  carrier: boolean;
  operstate: string;
}

/** Every device with its carrier; a device that does not exist is absent from the map. */
export async function readLinks(run: Runner): Promise<Map<string, LinkInfo>> {
  const r = await runChecked(run, 'cannot read links', 'ip', ['-j', 'link', 'show']);
  return parseLinks(r.stdout);
}

function parseLinks(stdout: string): Map<string, LinkInfo> {
  const out = new Map<string, LinkInfo>();
  for (const link of JSON.parse(stdout || '[]') as JsonObject[]) {
    if (typeof link.ifname !== 'string') continue;
    const flags = Array.isArray(link.flags) ? (link.flags as unknown[]) : [];
    out.set(link.ifname, {
      carrier: flags.includes('UP') && flags.includes('LOWER_UP'),
      // ip -j gives operstate as a string ("UP", "DOWN", "UNKNOWN"); String() only types the unknown JSON value.
      // eslint-disable-next-line @typescript-eslint/no-base-to-string
      operstate: String(link.operstate ?? 'UNKNOWN'),
    });
  }
  return out;
}

export interface IpState {
  rules: ListedRule[];
  /** Routes stamped with the protocol, outside the kernel's own tables. */
  owned: Route[];
  main: MainRoute[];
  addresses: AddressFacts;
}

/** What a read of one family's ip state may carry besides it, so a discovery runs one ip process per family. */
export interface IpStateExtras {
  /** `link show`: every device (under -4 iproute2 6.1 still lists them all, with or without an IPv4 address). */
  links?: boolean;
  /** `route show table all`: every route of the family, for the warning about others' routes in nft-mwan's tables. */
  allRoutes?: boolean;
}

export interface IpStateRead {
  state: IpState;
  /** Null unless asked for. */
  links: Map<string, LinkInfo> | null;
  /** Null unless asked for, or when that listing failed or did not parse: only a warning depends on it. */
  allRoutes: JsonObject[] | null;
}

/**
 * Everything discovery needs of one family in ONE `ip -j -batch` (a process per family, not per listing):
 * iproute2 prints one JSON document per line, one line per command, in order, and stops at a failing command,
 * leaving that command's document unfinished (no closing bracket, no newline). The listing of all routes goes
 * last, so its failure is told apart: every other document is whole.
 */
export async function readIpState(run: Runner, family: IpFamily, protocol: number, extras: IpStateExtras = {}): Promise<IpStateRead> {
  const required = ['rule show', `route show table all proto ${token(protocol)}`, 'route show table main', 'addr show', ...(extras.links ? ['link show'] : [])];
  const commands = extras.allRoutes ? [...required, 'route show table all'] : required;
  const args = ['-j', familyFlag(family), '-batch', '-'];
  const summary = 'cannot read ip rules, routes and addresses';
  const r = await run('ip', args, { input: `${commands.join('\n')}\n` });
  // Whole documents only: an unfinished last one (a failed command) has no newline after it.
  const lines = r.stdout.split('\n').slice(0, -1);
  const docs = lines.filter((l) => l.trim() !== '');
  const fail = (why: string) =>
    new MwanError({
      code: 'COMMAND_FAILED',
      summary: why,
      command: commandLine('ip', args),
      ...(r.exitCode !== 0 ? { exitCode: r.exitCode } : {}),
      stderr: r.stderr,
    });
  if (r.exitCode !== 0 && !(extras.allRoutes && docs.length >= required.length)) throw fail(summary);
  if (docs.length < required.length || (r.exitCode === 0 && docs.length !== commands.length)) {
    throw fail(`ip -j -batch printed ${docs.length} JSON documents for ${commands.length} commands`);
  }
  const [rules, owned, main, addresses, links] = docs as [string, string, string, string, string | undefined];
  return {
    state: {
      rules: parseRules(rules, family),
      owned: parseOwnedRoutes(owned, family, protocol),
      main: parseMainRoutes(main),
      addresses: parseAddresses(addresses, family),
    },
    links: extras.links ? parseLinks(links ?? '[]') : null,
    allRoutes: extras.allRoutes && r.exitCode === 0 ? routeList(docs[required.length]) : null,
  };
}

function routeList(doc: string | undefined): JsonObject[] | null {
  try {
    const routes: unknown = JSON.parse(doc ?? '');
    return Array.isArray(routes) ? routes.filter((o): o is JsonObject => typeof o === 'object' && o !== null && !Array.isArray(o)) : null;
  } catch {
    return null;
  }
}
