// The table's skeleton: base chains, each mark target's mark/keep/inbound chains, and the prerouting, output and classify heads.
import type { ResolvedConfig } from '../config/resolved.js';
import type { MarkLayout } from '../model/marks.js';
import { BYPASS_SET, BYPASS_SET6, chainName, counterName, probePairSetName, SPECIALS, TABLE_FAMILY, type Family } from '../model/names.js';
import type { NftCommand } from '../model/plan.js';
import type { PlannedInterface } from '../model/plan.js';
import { parseTarget } from '../model/targets.js';
import { ipProtocol } from './family.js';
import type { ChainRule } from './chain-collector.js';
import * as x from './nft-expr.js';

/** Base chains. Priorities are integers: a string prio makes a hookless chain on nft 1.0.6. */
export const BASE_CHAINS: readonly { name: string; base: NonNullable<x.ChainSpec['base']> }[] = [
  { name: 'prerouting', base: { type: 'filter', hook: 'prerouting', prio: -150, policy: 'accept' } },
  { name: 'output', base: { type: 'route', hook: 'output', prio: -150, policy: 'accept' } },
  { name: 'postrouting', base: { type: 'nat', hook: 'postrouting', prio: 100, policy: 'accept' } },
];

/** What a connection can be marked for: an enabled WAN (with its device) or a special (no device). */
export interface MarkTarget {
  name: string;
  mark: number;
  device: string | undefined;
}

export function markTargets(enabled: readonly PlannedInterface[], layout: MarkLayout): MarkTarget[] {
  return [
    ...enabled.map((i) => ({ name: i.name, mark: i.mark, device: i.device })),
    ...SPECIALS.map((s) => ({ name: chainName.special(s), mark: layout.special[s], device: undefined })),
  ];
}

/**
 * A packet that arrived on its connection's WAN is going to a LAN or to the router: the main table routes
 * it, so it gets no packet mark (its connection keeps the ct mark), and no fwmark rule has to send marked
 * traffic to the main table first. Every other packet of the connection (from a LAN, from the router) is
 * marked for the WAN's table. Accounting rides on the same chains, which every packet of a WAN's
 * connections passes anyway (no hook of its own): arriving on the WAN's device is rx, the rest tx.
 */
export function targetChainRules(targets: readonly MarkTarget[], layout: MarkLayout): ChainRule[] {
  const metaMark = (mark: number) => x.setMarkBits(x.meta('mark'), layout.mask, mark);
  const ctMark = (mark: number) => x.setMarkBits(x.ct('mark'), layout.mask, mark);
  return targets.flatMap((t): ChainRule[] => {
    if (t.device === undefined) {
      return [
        { chain: chainName.mark(t.name), expr: [metaMark(t.mark), ctMark(t.mark), x.accept] },
        { chain: chainName.keep(t.name), expr: [metaMark(t.mark), x.accept] },
      ];
    }
    const fromWan = x.match('==', x.meta('iifname'), t.device);
    return [
      // A connection that starts on the WAN (only prerouting's iifname map comes here): pinned to it, no
      // packet mark (its packets are not routed by it). The rule starts by reading the ct mark, which ends it
      // for a packet conntrack does not track: neighbour discovery arrives here and leaves unmarked and
      // uncounted, with no test of its own on the path of every packet.
      { chain: chainName.inbound(t.name), expr: [ctMark(t.mark), { counter: counterName('rx', t.name) }, x.accept] },
      // One the policy or the router sends out this WAN: never from the WAN itself, so no iifname test.
      { chain: chainName.mark(t.name), expr: [metaMark(t.mark), ctMark(t.mark), { counter: counterName('tx', t.name) }, x.accept] },
      { chain: chainName.keep(t.name), expr: [fromWan, { counter: counterName('rx', t.name) }, x.accept] },
      { chain: chainName.keep(t.name), expr: [metaMark(t.mark), { counter: counterName('tx', t.name) }, x.accept] },
    ];
  });
}

/** ICMPv6 neighbour discovery and router advertisement types (nft names, as listed). */
const ND_TYPES = ['nd-router-solicit', 'nd-router-advert', 'nd-neighbor-solicit', 'nd-neighbor-advert', 'nd-redirect'];

export interface HookInput {
  targets: readonly MarkTarget[];
  enabled: readonly PlannedInterface[];
  layout: MarkLayout;
  /** Whether some enabled WAN carries IPv6. */
  v6: boolean;
  gidBase: number;
  /** [WAN address, probe target] pairs the daemon's probes use (see probePairs). */
  probePairs: readonly x.Expr[];
  /** The same for IPv6 targets, from the WANs' IPv6 addresses. */
  probePairs6: readonly x.Expr[];
  /** The families whose probe-pair set for host-name targets the table has (see probePairSets). */
  probePairSets: readonly Family[];
}

/** The prerouting and output chains: what is decided already, what conntrack restores, what goes to classify. */
export function hookRules(o: HookInput): ChainRule[] {
  const out: ChainRule[] = [];
  const rule = (chain: string, expr: x.Stmt[]) => out.push({ chain, expr });
  // Prerouting: a packet that already carries one of our marks was decided upstream; an established
  // connection gets its mark back from conntrack (constants only: nft < 1.1.2 cannot OR two
  // non-constant operands, so one small chain per mark); inbound from a WAN is pinned to it.
  const alreadyMarked = x.match('!=', x.and(x.meta('mark'), o.layout.mask), 0);
  const restore = x.vmap(
    x.and(x.ct('mark'), o.layout.mask),
    o.targets.map((t) => [t.mark, x.goTo(chainName.keep(t.name))]),
  );
  for (const chain of ['prerouting', 'output']) {
    // Neighbour discovery and router advertisements are the link's business: never marked, never balanced.
    // Conntrack does not track them, so in prerouting nothing below can mark them (the restore and the
    // inbound chains read the ct mark first, classify wants ct state new); in output a socket's group id
    // could, so output lets them through first.
    if (chain === 'output') rule(chain, [x.match('==', x.payload('icmpv6', 'type'), { set: ND_TYPES }), x.accept]);
    // The router's own ICMP errors (TTL exceeded, fragmentation needed, unreachable: conntrack calls them
    // related) go back to the host that caused them, which the main table reaches: never a WAN's table.
    if (chain === 'output') rule(chain, [x.match('in', x.ct('state'), 'related'), x.accept]);
    rule(chain, [alreadyMarked, x.accept]);
    rule(chain, [restore]);
  }
  if (o.enabled.length > 0) {
    rule('prerouting', [
      x.vmap(
        x.meta('iifname'),
        o.enabled.map((i) => [i.device, x.goTo(chainName.inbound(i.name))]),
      ),
    ]);
  }
  rule('prerouting', [x.match('in', x.ct('state'), 'new'), x.goTo('classify')]);

  // The router's own NEW connections follow the rules too (a route chain: a mark change re-routes them,
  // masquerade then gives them the right source address). Two kinds keep their own way out:
  // `nft-mwan use WAN -- CMD` (its processes run with the WAN's group id) and the daemon's probes
  // from a WAN's address to its targets (ping probes carry the WAN's mark already).
  if (o.enabled.length > 0) {
    rule('output', [
      x.vmap(
        x.meta('skgid'),
        o.enabled.map((i) => [o.gidBase + i.id, x.goTo(chainName.mark(i.name))]),
      ),
    ]);
  }
  const pairKey = (family: Family) => ({ concat: [x.payload(ipProtocol(family), 'saddr'), x.payload(ipProtocol(family), 'daddr')] });
  for (const [family, pairs] of [
    ['ipv4', o.probePairs],
    ['ipv6', o.probePairs6],
  ] as const) {
    if (pairs.length > 0) rule('output', [x.match('==', pairKey(family), { set: [...pairs] }), x.accept]);
  }
  for (const family of o.probePairSets) rule('output', [x.match('==', pairKey(family), `@${probePairSetName(family)}`), x.accept]);
  // Without an IPv6 WAN the router's IPv6 connections are left to the main table.
  rule('output', [...(o.v6 ? [] : [x.match('==', x.meta('nfproto'), 'ipv4')]), x.match('in', x.ct('state'), 'new'), x.goTo('classify')]);
  return out;
}

/**
 * The daemon's non-ping probes of one family, as [WAN address, target] pairs: they leave from the WAN's address of
 * that family (its IPv6 one for IPv6 targets, in `track` or `track6`), so keep its way out.
 */
export function probePairs(config: ResolvedConfig, enabled: readonly PlannedInterface[], family: Family = 'ipv4'): x.Expr[] {
  return enabled.flatMap((i) => {
    const iface = config.interfaces[i.name];
    const address = family === 'ipv4' ? i.address : i.address6;
    if (iface === undefined || address === null) return [];
    return [iface.track, iface.track6].flatMap((t) => {
      if (!t || t.method === 'ping') return [];
      return t.targets.flatMap((text) => {
        const target = parseTarget(t.method, text);
        return 'error' in target || target.name || target.family !== family ? [] : [{ concat: [address, target.host] }];
      });
    });
  });
}

/**
 * A host name's address is not known when the ruleset is compiled (compile stays pure, and a name may
 * answer with another address at every lookup), so its pairs cannot be constants in a rule. The table gets
 * a set instead, and the daemon puts each round's pair in it with a timeout just before probing: round-robin
 * names never cause a re-apply, stale pairs expire on their own, and neither verification nor the incremental
 * apply compares its elements (it is one of the plan's dynamic sets). Ping needs none (it carries the mark).
 */
export function probePairSets(config: ResolvedConfig, enabled: readonly PlannedInterface[]): Family[] {
  const families = new Set<Family>();
  for (const i of enabled) {
    const iface = config.interfaces[i.name];
    for (const t of [iface?.track, iface?.track6]) {
      if (!t || t.method === 'ping') continue;
      if (
        t.targets.some((text) => {
          const target = parseTarget(t.method, text);
          return !('error' in target) && target.name;
        })
      )
        families.add(t.family);
    }
  }
  return (['ipv4', 'ipv6'] as const).filter((f) => families.has(f));
}

/** The probe-pair sets, declared (an existing one keeps its pairs: `add` never empties it). */
export function probePairSetCommands(table: string, families: readonly Family[]): NftCommand[] {
  return families.map((family) => {
    const addr = family === 'ipv4' ? 'ipv4_addr' : 'ipv6_addr';
    return { add: { set: { family: TABLE_FAMILY, table, name: probePairSetName(family), type: [addr, addr], flags: ['timeout'] } } };
  });
}

/**
 * classify: NEW connections. The router's own addresses, loopback, broadcast, multicast and the main table's
 * specific routes are never balanced: one set lookup (a `fib daddr type` test would cost a route lookup per packet).
 */
export function classifyHead(v6: boolean): ChainRule[] {
  return [
    { chain: 'classify', expr: [x.match('==', x.payload('ip', 'daddr'), `@${BYPASS_SET}`), x.accept] },
    // IPv6: its own bypass set with a WAN that carries it; else not balanced at all.
    v6
      ? { chain: 'classify', expr: [x.match('==', x.payload('ip6', 'daddr'), `@${BYPASS_SET6}`), x.accept] }
      : { chain: 'classify', expr: [x.match('==', x.meta('nfproto'), 'ipv6'), x.accept] },
  ];
}
