// A validated config -> the resolved config: every default applied once, here, so later code never writes `?? default`. Pure.
import type { Globals, Interface, NftMwanConfig, Rule } from '../generated/config.js';
import { DEFAULTS, TRACK_DEFAULTS } from '../model/defaults.js';
import { parseMask } from '../model/marks.js';
import type { ResolvedConfig, ResolvedGlobals, ResolvedInterface, ResolvedRule, TrackSettings } from './resolved.js';

export function normalize(config: NftMwanConfig): ResolvedConfig {
  return {
    globals: resolveGlobals(config.globals ?? {}),
    interfaces: Object.fromEntries(Object.entries(config.interfaces).map(([name, i]) => [name, resolveInterface(i)])),
    policies: Object.fromEntries(
      Object.entries(config.policies).map(([name, p]) => [
        name,
        {
          members: p.members.map((mb) => ({ interface: mb.interface, metric: mb.metric ?? DEFAULTS.metric, weight: mb.weight ?? DEFAULTS.weight })),
          lastResort: p.lastResort ?? DEFAULTS.lastResort,
          mode: p.mode ?? DEFAULTS.mode,
        },
      ]),
    ),
    rules: (config.rules ?? []).map(resolveRule),
    sets: Object.fromEntries(
      Object.entries(config.sets ?? {}).map(([name, s]) => [name, { type: s.type, elements: [...(s.elements ?? [])], timeout: s.timeout }]),
    ),
  };
}

/** Globals with every default: also what `stop` uses when the config cannot be read. */
export function resolveGlobals(g: Globals): ResolvedGlobals {
  const m = g.metrics ?? {};
  return {
    markMask: parseMask(g.markMask ?? DEFAULTS.markMask),
    table: g.table ?? DEFAULTS.table,
    routeTableBase: g.routeTableBase ?? DEFAULTS.routeTableBase,
    rulePriority: g.rulePriority ?? DEFAULTS.rulePriority,
    routeProtocol: g.routeProtocol ?? DEFAULTS.routeProtocol,
    bypass: [...(g.bypass ?? [])],
    hooks: g.hooks,
    hookTimeout: g.hookTimeout ?? DEFAULTS.hookTimeout,
    metrics: { listen: m.listen, textfile: m.textfile, interval: m.interval ?? DEFAULTS.metricsInterval },
    useGidBase: g.useGidBase ?? DEFAULTS.useGidBase,
    mwan3User: g.mwan3User,
    ipv6WithoutWan: g.ipv6WithoutWan ?? DEFAULTS.ipv6WithoutWan,
  };
}

function resolveInterface(i: Interface): ResolvedInterface {
  return {
    device: i.device,
    gateway: i.gateway,
    id: i.id,
    enabled: i.enabled ?? DEFAULTS.enabled,
    track: trackSettings(i),
    track6: trackSettings(i, 'track6'),
    initialState: i.initialState ?? DEFAULTS.initialState,
    flushConntrack: [...(i.flushConntrack ?? [])],
    family: i.family ?? DEFAULTS.family,
    gateway6: i.gateway6,
    nat: i.nat ?? DEFAULTS.nat,
    nat6: i.nat6 ?? DEFAULTS.nat6,
    npt6Prefix: i.npt6Prefix,
    snatAddress: i.snatAddress,
    snat6Address: i.snat6Address,
  };
}

/** An interface's `track` (or `track6`) with every default filled in, or null when it is not tracked. */
export function trackSettings(iface: Interface, key: 'track' | 'track6' = 'track'): TrackSettings | null {
  const t = iface[key];
  if (t === undefined) return null;
  const d = TRACK_DEFAULTS;
  const interval = t.interval ?? d.interval;
  const q = t.quality;
  return {
    targets: [...t.targets],
    family: key === 'track6' || iface.family === 'ipv6' ? 'ipv6' : 'ipv4',
    method: t.method ?? d.method,
    // The validator refuses more than there are targets; capped here too so a round can always succeed.
    reliability: Math.min(t.reliability ?? d.reliability, t.targets.length),
    count: t.count ?? d.count,
    timeout: t.timeout ?? d.timeout,
    interval,
    failureInterval: t.failureInterval ?? interval,
    recoveryInterval: t.recoveryInterval ?? interval,
    down: t.down ?? d.down,
    up: t.up ?? d.up,
    expectStatus: t.expectStatus ?? null,
    dnsName: t.dnsName ?? null,
    quality:
      q === undefined
        ? null
        : {
            failureLatencyMs: q.failureLatencyMs ?? d.quality.failureLatencyMs,
            failureLossPct: q.failureLossPct ?? d.quality.failureLossPct,
            recoveryLatencyMs: q.recoveryLatencyMs ?? d.quality.recoveryLatencyMs,
            recoveryLossPct: q.recoveryLossPct ?? d.quality.recoveryLossPct,
            window: q.window ?? d.quality.window,
          },
  };
}

function resolveRule(r: Rule): ResolvedRule {
  return {
    name: r.name,
    policy: r.policy,
    srcIp: r.srcIp,
    destIp: r.destIp,
    proto: r.proto ?? DEFAULTS.proto,
    srcPort: r.srcPort,
    destPort: r.destPort,
    srcIface: r.srcIface,
    set: r.set,
    log: r.log ?? false,
    sticky: r.sticky ?? false,
    stickyTimeout: r.stickyTimeout ?? DEFAULTS.stickyTimeout,
    stickyBy: r.stickyBy ?? DEFAULTS.stickyBy,
    family: r.family ?? DEFAULTS.ruleFamily,
  };
}
