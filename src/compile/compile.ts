// compile(config, facts, states) -> Plan: the nft batch and routing state for one moment. Pure.
import { MwanError } from '../model/errors.js';
import type { ResolvedInterface, ResolvedConfig, ResolvedRule } from '../config/resolved.js';
import { allocateIds, markLayout, type MarkLayout } from '../model/marks.js';
import { normaliseIpIntervals, parseIpElement } from '../model/net.js';
import * as x from './nft-expr.js';
import { compileRules, type ClassifyRule } from './rules.js';
import { parseTarget } from '../model/targets.js';
import { EMPTY_FACTS, type LinkStates, type SystemFacts } from '../model/facts.js';
import { BYPASS_SET, BYPASS_SET6, chainName, counterName, IDS_MAP, SPECIALS, stickySetName, TABLE_FAMILY as FAMILY, type Special } from '../model/names.js';
import type { NftCommand, Plan, PlannedInterface, PlannedPolicy, Route, RoutingRule } from '../model/plan.js';


const has4 = (i: { family: string }) => i.family !== 'ipv6';
const has6 = (i: { family: string }) => i.family !== 'ipv4';

export function compile(config: ResolvedConfig, facts: SystemFacts = EMPTY_FACTS, states: LinkStates = {}): Plan {
  const g = config.globals;
  const table = g.table;
  const layout = markLayout(g.markMask);
  const tableBase = g.routeTableBase;
  const priority = g.rulePriority;
  const protocol = g.routeProtocol;
  const warnings: string[] = [];

  const names = Object.keys(config.interfaces);
  const allocation = allocateIds(
    names.map((name) => ({ name, explicitId: config.interfaces[name]?.id })),
    new Map(Object.entries(facts.previousIds)),
    layout.maxId,
  );
  for (const m of allocation.moved) warnings.push(`interface ${m.name}: id ${m.from} -> ${m.to} (${m.reason}); its live connections lose their WAN`);

  const interfaces: PlannedInterface[] = names
    .map((name) => {
      const iface = config.interfaces[name] as ResolvedInterface;
      const id = allocation.ids.get(name) as number;
      const enabled = iface.enabled;
      const state = states[name] ?? 'online';
      const linkUp = enabled && state !== 'down';
      return {
        name,
        device: iface.device,
        id,
        mark: layout.markOf(id),
        table: tableBase + id,
        family: iface.family,
        gateway: linkUp && has4(iface) ? resolveGateway(name, iface.gateway, facts.autoGateways, iface.device, '') : null,
        gateway6: linkUp && has6(iface) ? resolveGateway(name, iface.gateway6, facts.autoGateways6 ?? {}, iface.device, '6') : null,
        enabled,
        online: enabled && state === 'online',
        linkUp,
        address: enabled && has4(iface) ? (facts.addresses?.[name] ?? null) : null,
        address6: enabled && has6(iface) ? (facts.addresses6?.[name] ?? null) : null,
      };
    })
    .sort((a, b) => a.id - b.id);
  const byName = new Map(interfaces.map((i) => [i.name, i]));
  const enabled = interfaces.filter((i) => i.enabled);

  const policies = planPolicies(config, byName, 'ipv4');
  const v6 = enabled.some(has6);
  const policies6 = v6 ? planPolicies(config, byName, 'ipv6') : [];
  const chains = new Chains(table);

  // Base chains. Priorities are integers: a string prio makes a hookless chain on nft 1.0.6.
  chains.base('prerouting', { type: 'filter', hook: 'prerouting', prio: -150, policy: 'accept' });
  chains.base('output', { type: 'route', hook: 'output', prio: -150, policy: 'accept' });
  chains.base('postrouting', { type: 'nat', hook: 'postrouting', prio: 100, policy: 'accept' });

  const targets: { name: string; mark: number }[] = [
    ...enabled.map((i) => ({ name: i.name, mark: i.mark })),
    ...SPECIALS.map((s) => ({ name: chainName.special(s), mark: layout.special[s] })),
  ];
  // A packet that arrived on its connection's WAN is going to a LAN or to the router: the main table routes
  // it, so it gets no packet mark (its connection keeps the ct mark), and no fwmark rule has to send marked
  // traffic to the main table first. Every other packet of the connection (from a LAN, from the router) is
  // marked for the WAN's table. Accounting rides on the same chains, which every packet of a WAN's
  // connections passes anyway (no hook of its own): arriving on the WAN's device is rx, the rest tx.
  const devices = new Map(enabled.map((i) => [i.name, i.device]));
  const metaMark = (mark: number) => x.setMarkBits(x.meta('mark'), layout.mask, mark);
  const ctMark = (mark: number) => x.setMarkBits(x.ct('mark'), layout.mask, mark);
  for (const t of targets) {
    const device = devices.get(t.name);
    if (device === undefined) {
      chains.rule(chainName.mark(t.name), [metaMark(t.mark), ctMark(t.mark), x.accept]);
      chains.rule(chainName.keep(t.name), [metaMark(t.mark), x.accept]);
      continue;
    }
    // A connection that starts on the WAN (only prerouting's iifname map comes here): pinned to it, no
    // packet mark (its packets are not routed by it). The rule starts by reading the ct mark, which ends it
    // for a packet conntrack does not track: neighbour discovery arrives here and leaves unmarked and
    // uncounted, with no test of its own on the path of every packet.
    chains.rule(chainName.inbound(t.name), [ctMark(t.mark), { counter: counterName('rx', t.name) }, x.accept]);
    // One the policy or the router sends out this WAN: never from the WAN itself, so no iifname test.
    chains.rule(chainName.mark(t.name), [metaMark(t.mark), ctMark(t.mark), { counter: counterName('tx', t.name) }, x.accept]);
    const fromWan = x.match('==', x.meta('iifname'), device);
    chains.rule(chainName.keep(t.name), [fromWan, { counter: counterName('rx', t.name) }, x.accept]);
    chains.rule(chainName.keep(t.name), [metaMark(t.mark), { counter: counterName('tx', t.name) }, x.accept]);
  }

  // Prerouting: a packet that already carries one of our marks was decided upstream; an established
  // connection gets its mark back from conntrack (constants only: nft < 1.1.2 cannot OR two
  // non-constant operands, so one small chain per mark); inbound from a WAN is pinned to it.
  const alreadyMarked = x.match('!=', x.and(x.meta('mark'), layout.mask), 0);
  const restore = x.vmap(
    x.and(x.ct('mark'), layout.mask),
    targets.map((t) => [t.mark, x.goTo(chainName.keep(t.name))]),
  );
  for (const chain of ['prerouting', 'output']) {
    // Neighbour discovery and router advertisements are the link's business: never marked, never balanced.
    // Conntrack does not track them, so in prerouting nothing below can mark them (the restore and the
    // inbound chains read the ct mark first, classify wants ct state new); in output a socket's group id
    // could, so output lets them through first.
    if (chain === 'output') chains.rule(chain, [x.match('==', x.payload('icmpv6', 'type'), { set: ND_TYPES }), x.accept]);
    // The router's own ICMP errors (TTL exceeded, fragmentation needed, unreachable: conntrack calls them
    // related) go back to the host that caused them, which the main table reaches: never a WAN's table.
    if (chain === 'output') chains.rule(chain, [x.match('in', x.ct('state'), 'related'), x.accept]);
    chains.rule(chain, [alreadyMarked, x.accept]);
    chains.rule(chain, [restore]);
  }
  if (enabled.length > 0) {
    chains.rule('prerouting', [
      x.vmap(
        x.meta('iifname'),
        enabled.map((i) => [i.device, x.goTo(chainName.inbound(i.name))]),
      ),
    ]);
  }
  chains.rule('prerouting', [x.match('in', x.ct('state'), 'new'), x.goTo('classify')]);

  // The router's own NEW connections follow the rules too (a route chain: a mark change re-routes them,
  // masquerade then gives them the right source address). Two kinds keep their own way out:
  // `nft-mwan use WAN -- CMD` (its processes run with the WAN's group id) and the daemon's probes
  // from a WAN's address to its targets (ping probes carry the WAN's mark already).
  if (enabled.length > 0) {
    const gidBase = g.useGidBase;
    chains.rule('output', [x.vmap(x.meta('skgid'), enabled.map((i) => [gidBase + i.id, x.goTo(chainName.mark(i.name))]))]);
  }
  const probePairs = enabled.flatMap((i) => {
    const t = config.interfaces[i.name]?.track;
    if (!t || t.method === 'ping' || i.address === null) return [];
    return t.targets.flatMap((text) => {
      const target = parseTarget(t.method, text);
      return 'error' in target ? [] : [{ concat: [i.address as string, target.host] }];
    });
  });
  if (probePairs.length > 0) {
    chains.rule('output', [x.match('==', { concat: [x.payload('ip', 'saddr'), x.payload('ip', 'daddr')] }, { set: probePairs }), x.accept]);
  }
  // Without an IPv6 WAN the router's IPv6 connections are left to the main table.
  chains.rule('output', [...(v6 ? [] : [x.match('==', x.meta('nfproto'), 'ipv4')]), x.match('in', x.ct('state'), 'new'), x.goTo('classify')]);

  // classify: NEW connections. The router's own addresses, loopback, broadcast, multicast and the main table's
  // specific routes are never balanced: one set lookup (a `fib daddr type` test would cost a route lookup per packet).
  chains.rule('classify', [x.match('==', x.payload('ip', 'daddr'), `@${BYPASS_SET}`), x.accept]);
  // IPv6: its own bypass set with a WAN that carries it; else not balanced at all.
  if (v6) chains.rule('classify', [x.match('==', x.payload('ip6', 'daddr'), `@${BYPASS_SET6}`), x.accept]);
  else chains.rule('classify', [x.match('==', x.meta('nfproto'), 'ipv6'), x.accept]);
  const sticky = planSticky(config, policies, byName);
  for (const r of classifyTail(config)) {
    chains.rule('classify', r.expr, r.comment);
  }
  for (const st of sticky.rules) {
    const views = [
      { family: 'ipv4' as const, p: policies.find((q) => q.name === st.policy) },
      { family: 'ipv6' as const, p: policies6.find((q) => q.name === st.policy) },
    ];
    for (const { family, p } of views) {
      if (!p) continue;
      const key = st.key(family);
      const only = v6 ? [x.match('==', x.meta('nfproto'), family)] : [];
      // A source seen on an active WAN under this rule goes back to it; entries of offline WANs are not consulted.
      for (const m of p.members) {
        const iface = byName.get(m.interface);
        if (!iface?.enabled || !(family === 'ipv4' ? has4(iface) : has6(iface))) continue;
        const set = `@${st.set(family, m.interface)}`;
        // The address match implies the family (nft would drop an explicit nfproto from the listing).
        if (m.active) chains.rule(chainName.sticky(st.rule), [x.match('==', key, set), { set: { op: 'update', elem: key, set } }, x.goTo(chainName.mark(m.interface))]);
        // Every member's chain, active or not: a WAN's state change then only rewrites rules (an incremental batch).
        chains.rule(chainName.stick(st.rule, m.interface, family), [{ set: { op: 'update', elem: key, set } }, x.goTo(chainName.mark(m.interface))]);
      }
      const verdict = policyVerdict(p, (iface) => chainName.stick(st.rule, iface, family), family);
      chains.rule(chainName.sticky(st.rule), [...(impliesFamily(verdict) ? [] : only), verdict]);
    }
  }

  for (const p of policies) {
    const p6 = policies6.find((q) => q.name === p.name);
    for (const r of perFamily(policyVerdict(p), p6 && policyVerdict(p6, chainName.mark, 'ipv6'))) chains.rule(chainName.policy(p.name), r);
  }
  // Policies referenced by nothing still get a chain, so `explain`/status can show them.

  if (enabled.length > 0) {
    const nat4 = enabled.filter((i) => has4(i) && config.interfaces[i.name]?.nat === 'masquerade');
    if (nat4.length > 0) {
      chains.rule('postrouting', [x.match('==', x.meta('nfproto'), 'ipv4'), x.match('==', x.meta('oifname'), x.oneOrSet(nat4.map((i) => i.device))), { masquerade: null }]);
    }
    const nat6 = (mode: string) => enabled.filter((i) => has6(i) && config.interfaces[i.name]?.nat6 === mode);
    if (nat6('masquerade').length > 0) {
      chains.rule('postrouting', [x.match('==', x.meta('nfproto'), 'ipv6'), x.match('==', x.meta('oifname'), x.oneOrSet(nat6('masquerade').map((i) => i.device))), { masquerade: null }]);
    }
    // Prefix translation: the LAN prefix's host part kept, the WAN's routed prefix in front.
    for (const i of nat6('npt')) {
      const prefix = parseIpElement(config.interfaces[i.name]?.npt6Prefix ?? '');
      if ('error' in prefix) continue;
      const [el] = normaliseIpIntervals('ipv6', [prefix.interval]);
      if (el?.kind !== 'prefix') continue;
      chains.rule('postrouting', [
        x.match('==', x.meta('oifname'), i.device),
        { snat: { family: 'ip6', addr: { prefix: { addr: el.addr, len: el.len } }, flags: 'netmap', type_flags: 'prefix' } },
      ]);
    }
  }

  const bypass = bypassElements('ipv4', bypassTexts(config, facts));
  const bypass6 = bypassElements('ipv6', bypassTexts(config, facts));

  const commands: NftCommand[] = [x.addTable(FAMILY, table), { flush: { table: { family: FAMILY, name: table } } }];
  // Stale objects from an older config go in the same transaction, after the flush emptied their users.
  const plannedChains = new Set(chains.names());
  for (const name of facts.installed?.chains ?? []) {
    if (!plannedChains.has(name)) commands.push({ delete: { chain: { family: FAMILY, table, name } } });
  }
  for (const name of facts.installed?.maps ?? []) {
    if (name !== IDS_MAP) commands.push({ delete: { map: { family: FAMILY, table, name } } });
  }
  const userSets = Object.keys(config.sets);
  const keepSets = new Set([BYPASS_SET, ...(v6 ? [BYPASS_SET6] : []), ...userSets, ...sticky.sets.map((st) => st.name)]);
  for (const name of facts.installed?.sets ?? []) {
    if (!keepSets.has(name)) commands.push({ delete: { set: { family: FAMILY, table, name } } });
  }
  const counters = enabled.flatMap((i) => (['rx', 'tx'] as const).map((d) => counterName(d, i.name)));
  for (const name of facts.installed?.counters ?? []) {
    if (!counters.includes(name)) commands.push({ delete: { counter: { family: FAMILY, table, name } } });
  }
  // `add` keeps an existing counter's values: re-applies and failovers do not reset the accounting.
  for (const name of counters) commands.push({ add: { counter: { family: FAMILY, table, name } } });
  commands.push(...chains.chainCommands());
  const setRef = { family: FAMILY, table, name: BYPASS_SET };
  commands.push({ add: { set: { ...setRef, type: 'ipv4_addr', flags: ['interval'] } } }, { flush: { set: setRef } });
  if (bypass.length > 0) commands.push({ add: { element: { ...setRef, elem: bypass } } });
  if (v6) {
    const ref6 = { family: FAMILY, table, name: BYPASS_SET6 };
    commands.push({ add: { set: { ...ref6, type: 'ipv6_addr', flags: ['interval'] } } }, { flush: { set: ref6 } });
    if (bypass6.length > 0) commands.push({ add: { element: { ...ref6, elem: bypass6 } } });
  }
  // Named sets: re-declared as they are (an existing set keeps the elements others added), config elements added.
  for (const [name, set] of Object.entries(config.sets)) {
    const ref = { family: FAMILY, table, name };
    commands.push({ add: { set: { ...ref, type: set.type, flags: set.timeout ? ['interval', 'timeout'] : ['interval'], ...(set.timeout ? { timeout: set.timeout } : {}) } } });
    const elements = bypassElements(set.type === 'ipv6_addr' ? 'ipv6' : 'ipv4', set.elements);
    if (elements.length > 0) commands.push({ add: { element: { ...ref, elem: elements } } });
  }
  // Sticky sets: nft marks a timeout set "dynamic" once a rule updates it, and 1.0.6 has no JSON for that
  // flag, so an existing one is left as it is (re-adding would fail); a changed one is replaced.
  for (const st of sticky.sets) {
    const ref = { family: FAMILY, table, name: st.name };
    const installed = facts.installedSets?.[st.name];
    const same = installed !== undefined && installed.timeout === st.timeout && canonicalType(installed.type) === canonicalType(st.type);
    if (installed !== undefined && !same) commands.push({ delete: { set: ref } });
    if (!same) commands.push({ add: { set: { ...ref, type: st.type, flags: ['timeout'], timeout: st.timeout } } });
    // An offline WAN's entries go: when it returns, its sources are balanced afresh.
    if (!st.online && installed !== undefined && same) commands.push({ flush: { set: ref } });
  }
  // The id allocation lives in the table itself, so what is installed describes itself.
  const mapRef = { family: FAMILY, table, name: IDS_MAP };
  commands.push(
    { add: { map: { ...mapRef, type: 'ifname', map: 'mark' } } },
    { flush: { map: mapRef } },
    { add: { element: { ...mapRef, elem: interfaces.map((i) => [i.name, i.id]) } } },
  );
  commands.push(...chains.ruleCommands());

  return {
    table: { family: FAMILY, name: table },
    markMask: layout.mask,
    nft: { nftables: commands },
    routing: planRouting(enabled, layout, { priority, protocol }),
    interfaces,
    policies,
    policies6,
    warnings,
    dynamicSets: userSets,
    stickySets: sticky.sets.map((st) => st.name),
  };
}

function canonicalType(t: unknown): string {
  return JSON.stringify(t);
}

interface StickyRule {
  rule: string;
  policy: string;
  key: (family: 'ipv4' | 'ipv6') => x.Expr;
  set: (family: 'ipv4' | 'ipv6', iface: string) => string;
}

/** Sticky rules and their sets: one timeout set per (rule, WAN, family) of the rule's policy. */
function planSticky(config: ResolvedConfig, policies: PlannedPolicy[], byName: Map<string, PlannedInterface>) {
  const rules: StickyRule[] = [];
  const sets: { name: string; type: string | string[]; timeout: number; online: boolean }[] = [];
  for (const rule of config.rules) {
    if (!rule.sticky) continue;
    const p = policies.find((q) => q.name === rule.policy);
    if (!p) continue;
    const bySrcDst = rule.stickyBy === 'srcdst';
    const proto = (f: 'ipv4' | 'ipv6') => (f === 'ipv6' ? 'ip6' : 'ip');
    const key = (f: 'ipv4' | 'ipv6') => (bySrcDst ? { concat: [x.payload(proto(f), 'saddr'), x.payload(proto(f), 'daddr')] } : x.payload(proto(f), 'saddr'));
    const setName = (f: 'ipv4' | 'ipv6', iface: string) => stickySetName(rule.name, iface, f);
    rules.push({ rule: rule.name, policy: p.name, key, set: setName });
    for (const m of p.members) {
      const iface = byName.get(m.interface);
      if (!iface?.enabled) continue;
      for (const f of ['ipv4', 'ipv6'] as const) {
        if ((f === 'ipv4' && !has4(iface)) || (f === 'ipv6' && !has6(iface))) continue;
        const t = f === 'ipv6' ? 'ipv6_addr' : 'ipv4_addr';
        sets.push({ name: setName(f, m.interface), type: bySrcDst ? [t, t] : t, timeout: rule.stickyTimeout, online: iface.online });
      }
    }
  }
  return { rules, sets };
}

function resolveGateway(name: string, gateway: string | undefined, auto: Readonly<Record<string, string>>, device: string, v: '' | '6'): string | null {
  if (gateway === undefined) return null;
  if (gateway !== 'auto') return gateway;
  const found = auto[name];
  if (found === undefined) {
    throw new MwanError({
      code: 'GATEWAY_NOT_FOUND',
      summary: `interface ${name}: gateway${v} "auto" but the main table has no IPv${v || '4'} default route through device ${device}; set "gateway${v}" to an address, or bring ${device} up first`,
    });
  }
  return found;
}

/** The policies as one family sees them: a member whose WAN does not carry the family is never online for it. */
function planPolicies(config: ResolvedConfig, byName: Map<string, PlannedInterface>, family: 'ipv4' | 'ipv6'): PlannedPolicy[] {
  const carries = (i: PlannedInterface | undefined) => i !== undefined && (family === 'ipv4' ? has4(i) : has6(i));
  return Object.entries(config.policies).map(([name, policy]) => {
    const members = policy.members.map((m) => ({
      interface: m.interface,
      metric: m.metric,
      weight: m.weight,
      online: (byName.get(m.interface)?.online ?? false) && carries(byName.get(m.interface)),
    }));
    const online = members.filter((m) => m.online);
    const tier = Math.min(...online.map((m) => m.metric));
    const total = online.filter((m) => m.metric === tier).reduce((s, m) => s + m.weight, 0);
    return {
      name,
      mode: policy.mode,
      lastResort: policy.lastResort,
      members: members.map(({ online: isOnline, ...m }) => {
        const active = isOnline && m.metric === tier;
        return { ...m, active, share: active ? m.weight / total : 0 };
      }),
      usingLastResort: online.length === 0,
    };
  });
}

/** Destinations that are the router's or the link's whatever the addresses: loopback, broadcast, multicast, link-local. */
const ALWAYS_LOCAL = {
  ipv4: ['127.0.0.0/8', '224.0.0.0/4', '255.255.255.255/32'],
  ipv6: ['::1/128', 'fe80::/10', 'ff00::/8'],
} as const;

/** What the bypass sets hold, both families (each set takes its own): `explain` reads the same list. */
export function bypassTexts(config: ResolvedConfig, facts: SystemFacts): string[] {
  return [
    ...ALWAYS_LOCAL.ipv4,
    ...ALWAYS_LOCAL.ipv6,
    ...(facts.local ?? []),
    ...(facts.local6 ?? []),
    ...facts.connected,
    ...(facts.connected6 ?? []),
    ...config.globals.bypass,
  ];
}

/** ICMPv6 neighbour discovery and router advertisement types (nft names, as listed). */
const ND_TYPES = ['nd-router-solicit', 'nd-router-advert', 'nd-neighbor-solicit', 'nd-neighbor-advert', 'nd-redirect'];

/** A source-hash verdict hashes `ip saddr` or `ip6 saddr`, which already restricts it to its family. */
function impliesFamily(verdict: x.Stmt): boolean {
  return JSON.stringify(verdict).includes('"jhash"');
}

/** One verdict for both families when they agree, else one rule per family. */
function perFamily(v4: x.Stmt, v6: x.Stmt | undefined): x.Stmt[][] {
  if (v6 === undefined) return [[v4]];
  if (JSON.stringify(v4) === JSON.stringify(v6)) return [[v4]];
  const only = (family: 'ipv4' | 'ipv6', v: x.Stmt) => (impliesFamily(v) ? [v] : [x.match('==', x.meta('nfproto'), family), v]);
  return [only('ipv4', v4), only('ipv6', v6)];
}

/**
 * The user rules' part of the classify chain depends on the rules and the sets' types only, never on link
 * states or system facts, and the daemon compiles the same config on every state change: the last result
 * is kept, keyed by the rules' JSON (a changed rule, even one changed in place, is compiled afresh).
 * Plans share it: nothing may change a compiled plan in place (its rules are frozen).
 */
let lastClassify: { key: string; tail: readonly ClassifyRule[] } | null = null;
function classifyTail(config: ResolvedConfig): readonly ClassifyRule[] {
  const rules = config.rules;
  const sets = config.sets;
  const key = JSON.stringify([rules, Object.entries(sets).map(([n, st]) => [n, st.type])]);
  if (lastClassify?.key === key) return lastClassify.tail;
  const tail = freezeRules(compileRules(rules, (rule) => (rule.sticky ? chainName.sticky(rule.name) : policyTarget(rule.policy)), sets));
  lastClassify = { key, tail };
  return tail;
}

/** Each rule and its statement list (a verdict map's thousand elements are left as they are: freezing them costs more than the compile saves). */
function freezeRules(rules: ClassifyRule[]): readonly ClassifyRule[] {
  for (const r of rules) Object.freeze(Object.freeze(r).expr);
  return Object.freeze(rules);
}

function policyTarget(policy: string): string {
  if ((SPECIALS as readonly string[]).includes(policy)) return chainName.mark(chainName.special(policy as Special));
  return chainName.policy(policy);
}

/** Weighted choice among the active members: numgen over the weight total (reduced by their gcd). */
function policyVerdict(p: PlannedPolicy, targetOf: (iface: string) => string = chainName.mark, family: 'ipv4' | 'ipv6' = 'ipv4'): x.Stmt {
  const active = p.members.filter((m) => m.active);
  if (active.length === 0) return x.goTo(chainName.mark(chainName.special(p.lastResort)));
  if (active.length === 1) return x.goTo(targetOf((active[0] as { interface: string }).interface));
  const divisor = active.reduce((d, m) => gcd(d, m.weight), 0);
  const entries: [x.Expr, x.Stmt][] = [];
  let from = 0;
  for (const m of active) {
    const to = from + m.weight / divisor - 1;
    entries.push([from === to ? from : { range: [from, to] }, x.goTo(targetOf(m.interface))]);
    from = to + 1;
  }
  const key =
    p.mode === 'srchash'
      ? // A seed fixed per policy name: re-applies never reshuffle sources (nft lists jhash without offset).
        { jhash: { mod: from, seed: seedOf(p.name), expr: x.payload(family === 'ipv6' ? 'ip6' : 'ip', 'saddr') } }
      : { numgen: { mode: p.mode === 'roundrobin' ? 'inc' : 'random', mod: from, offset: 0 } };
  return x.vmap(key, entries);
}

/** FNV-1a of the policy name: a stable 32-bit jhash seed. */
export function seedOf(name: string): number {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(name, 'utf8')) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return h;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** The texts of one family (others are skipped), merged into the fewest prefixes. */
function bypassElements(family: 'ipv4' | 'ipv6', texts: readonly string[]): x.Expr[] {
  const intervals = texts.flatMap((t) => {
    const parsed = parseIpElement(t);
    return 'error' in parsed ? [] : [parsed.interval];
  });
  return normaliseIpIntervals(family, intervals).map(x.addrElement);
}

function planRouting(
  enabled: readonly PlannedInterface[],
  layout: MarkLayout,
  o: { priority: number; protocol: number },
): Plan['routing'] {
  const rules: RoutingRule[] = [];
  const routes: Route[] = [];
  const families: (4 | 6)[] = enabled.some(has6) ? [4, 6] : [4];
  for (const family of families) {
    const fw = (mark: number) => ({ family, fwmark: mark, fwmask: layout.mask, protocol: o.protocol });
    for (const i of enabled) {
      if (!(family === 4 ? has4(i) : has6(i))) continue;
      const gateway = family === 4 ? i.gateway : i.gateway6;
      if (i.linkUp) {
        routes.push({ family, table: i.table, dst: 'default', ...(gateway ? { gateway } : {}), dev: i.device, protocol: o.protocol });
      }
      // Packets arriving from the WAN carry no packet mark (the main table routes them to the LANs): the
      // marked ones leave through the WAN, straight to its table.
      rules.push({ ...fw(i.mark), priority: o.priority + 1, action: 'lookup', table: i.table });
      // Traffic the router sends from this WAN's own address (health probes, local services) leaves through it.
      const address = family === 4 ? i.address : i.address6;
      if (address !== null) {
        const from = { family, src: `${address}/${family === 4 ? 32 : 128}`, protocol: o.protocol };
        rules.push({ ...from, priority: o.priority, action: 'lookup', table: 'main', suppressPrefixLength: 0 });
        // After the fwmark lookups: a connection the rules marked for another WAN keeps that WAN, even though
        // its source address (chosen before the mark) is this one's; masquerade then corrects the source.
        rules.push({ ...from, priority: o.priority + 2, action: 'lookup', table: i.table });
      }
      // If the WAN's table has no route (device gone), never fall through to the main table's default.
      rules.push({ ...fw(i.mark), priority: o.priority + 2, action: 'unreachable' });
    }
    // The router's ICMP errors for such connections are not marked (the output chain accepts related packets
    // first), so they reach the LAN host instead of the rule they report on.
    rules.push({ ...fw(layout.special.unreachable), priority: o.priority + 2, action: 'unreachable' });
    rules.push({ ...fw(layout.special.blackhole), priority: o.priority + 2, action: 'blackhole' });
  }
  return { protocol: o.protocol, tables: enabled.map((i) => i.table), rules, routes };
}

/** Collects chains and their rules in a stable order (base chains first, then by first use). */
class Chains {
  private readonly order: string[] = [];
  private readonly specs = new Map<string, x.ChainSpec>();
  private readonly rules = new Map<string, { expr: x.Stmt[]; comment?: string | undefined }[]>();

  constructor(private readonly table: string) {}

  base(name: string, base: NonNullable<x.ChainSpec['base']>): void {
    this.ensure(name);
    this.specs.set(name, { name, base });
  }

  rule(chain: string, expr: x.Stmt[], comment?: string): void {
    this.ensure(chain);
    this.rules.get(chain)?.push({ expr, comment });
  }

  names(): string[] {
    return [...this.order];
  }

  chainCommands(): NftCommand[] {
    return this.order.map((name) => x.addChain(FAMILY, this.table, this.specs.get(name) ?? { name }));
  }

  ruleCommands(): NftCommand[] {
    return this.order.flatMap((chain) =>
      (this.rules.get(chain) ?? []).map((r) => x.addRule(FAMILY, this.table, chain, r.expr, r.comment)),
    );
  }

  private ensure(name: string): void {
    if (!this.specs.has(name)) {
      this.order.push(name);
      this.specs.set(name, { name });
      this.rules.set(name, []);
    }
  }
}
