// An mwan3-equivalent iptables ruleset (mangle + nat, for iptables-nft-restore) and its ip rules and routes,
// built the way mwan3 2.1x builds them, for the data-plane benchmark: the per-packet cost of mwan3's
// structure (a chain of hook jumps, one iptables rule per user rule, xt statistic for balancing, CONNMARK
// restore and save) against nft-mwan's compiled tables. See ../shared/reference/mwan3.md.
//
// Differences from a real mwan3, and why they do not flatter it:
// - iptables-nft has no ipset: mwan3's set matches (mwan3_connected_ipv4, mwan3_custom_ipv4,
//   mwan3_dynamic_ipv4) are written as one plain `-d`/`-s` rule per network. With a handful of
//   connected networks that costs about what one hash:net lookup does; custom and dynamic are empty
//   sets in a default install, so their chains are empty here (the jumps to them are kept).
// - Routing tables are numbered 1000+id (mwan3 uses id itself); rule priorities are mwan3's
//   (1000+id iif, 2000+id fwmark lookup, 3000+id fwmark unreachable).
// - mwan3's general blackhole/unreachable mark rules are left out: no rule here uses those marks.

export interface Mwan3Wan {
  /** The interface's name (mwan3's logical interface, used in comments). */
  name: string;
  /** Its Linux device. */
  dev: string;
  /** mwan3's interface id (1-based): mark id2mask(id), table 1000+id, rule priorities 1000/2000/3000+id. */
  id: number;
  /** Next hop of the interface's default route; absent: a point-to-point device (`default dev DEV`). */
  gateway?: string;
  /** Weight in the balanced policy (mwan3 member weight, default 1). */
  weight?: number;
}

export interface Mwan3Route {
  dst: string;
  dev: string;
}

export interface Mwan3Options {
  wans: Mwan3Wan[];
  /** How many user rules come before the final default rule: one iptables rule each. */
  rules: number;
  /** mwan3's mmx_mask (default 0x3f00). */
  mask?: number;
  /** Networks in mwan3's connected set (bypass: never balanced). Default: none. */
  connected?: string[];
  /** Main-table routes mwan3 mirrors into every interface table (connected networks: LAN, WAN links). */
  mirror?: Mwan3Route[];
  /** Destination of user rule i (default pinAddress(i)). */
  ruleDest?: (i: number) => string;
}

export interface Mwan3Ruleset {
  /** iptables-restore input for the mangle and nat tables. */
  iptables: string;
  /** `ip` argument vectors that add mwan3's ip rules and routes, in order. */
  ipRules: string[][];
  /** `ip` argument vectors that remove them again. */
  ipUndo: string[][];
  /** The policy chain every user rule jumps to, and the one the final default rule jumps to. */
  pinPolicy: string;
  defaultPolicy: string;
}

/** Base of the user rules' destinations: 203.0.112.0/22, outside every address the benchmark sends to. */
export const PIN_BASE = '203.0.112.0';
export const PIN_LIMIT = 1024;

/** The i-th /32 of the user rules (shared with the nft-mwan config so both setups carry the same rules). */
export function pinAddress(i: number): string {
  if (!Number.isInteger(i) || i < 0 || i >= PIN_LIMIT) throw new Error(`user rule ${i}: only ${PIN_LIMIT} destinations in ${PIN_BASE}/22`);
  return `203.0.${112 + Math.floor(i / 256)}.${i % 256}`;
}

/** mwan3_id2mask: spreads the bits of `id` over the set bits of `mask` (id 1 = 0x100, 3 = 0x300 for 0x3f00). */
export function id2mask(id: number, mask: number): number {
  let out = 0;
  let bit = 0;
  for (let m = 0; m < 32; m++) {
    if (((mask >>> m) & 1) === 0) continue;
    if ((id >>> bit) & 1) out |= 1 << m;
    bit++;
  }
  if (id >>> bit !== 0) throw new Error(`id ${id} does not fit in mask 0x${mask.toString(16)}`);
  return out >>> 0;
}

const hex = (n: number) => `0x${n.toString(16)}`;

export interface StatisticRule {
  wan: Mwan3Wan;
  /** Probability for `-m statistic --mode random --probability`; null: the last rule, taken unconditionally. */
  probability: number | null;
}

/**
 * A balanced policy chain in mwan3's order: mwan3 walks the members adding up weights and inserts each
 * member's rule at the TOP with probability weight/(sum so far), so the chain lists the last member first
 * and the first member last, unconditionally. 1:1:1 gives wan3 0.33333, wan2 0.5, wan1 the rest; 3:1 gives
 * wan2 0.25, wan1 the rest. Probabilities are rounded to 5 decimals.
 */
export function statisticRules(wans: readonly Mwan3Wan[]): StatisticRule[] {
  let total = 0;
  const out: StatisticRule[] = [];
  for (const [i, wan] of wans.entries()) {
    const weight = wan.weight ?? 1;
    if (!(weight > 0)) throw new Error(`${wan.name}: weight must be positive`);
    total += weight;
    out.unshift({ wan, probability: i === 0 ? null : Math.round((weight / total) * 100_000) / 100_000 });
  }
  return out;
}

/** iptables-restore quoting for a comment. */
const comment = (text: string) => `-m comment --comment "${text.replace(/["\\]/g, '')}"`;

export function mwan3Ruleset(o: Mwan3Options): Mwan3Ruleset {
  const mask = o.mask ?? 0x3f00;
  const M = hex(mask);
  const DEFAULT = `${M}/${M}`;
  const unmarked = `-m mark --mark 0x0/${M}`;
  if (o.wans.length === 0) throw new Error('mwan3Ruleset: no WANs');
  if (!Number.isInteger(o.rules) || o.rules < 0) throw new Error(`mwan3Ruleset: rules must be a whole number, got ${o.rules}`);
  const ids = new Set(o.wans.map((w) => w.id));
  if (ids.size !== o.wans.length) throw new Error('mwan3Ruleset: WAN ids must be unique');
  const mark = (w: Mwan3Wan) => `${hex(id2mask(w.id, mask))}/${M}`;
  const dest = o.ruleDest ?? pinAddress;
  const first = o.wans[0] as Mwan3Wan;
  const pinPolicy = `mwan3_policy_${first.name}_only`;
  const defaultPolicy = 'mwan3_policy_balanced';
  const connected = o.connected ?? [];

  const chains = [
    'mwan3_hook',
    'mwan3_ifaces_in',
    ...o.wans.map((w) => `mwan3_iface_in_${w.name}`),
    'mwan3_custom_ipv4',
    'mwan3_connected_ipv4',
    'mwan3_dynamic_ipv4',
    'mwan3_rules',
    pinPolicy,
    defaultPolicy,
  ];
  const m: string[] = ['*mangle', ':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ...chains.map((c) => `:${c} - [0:0]`)];
  m.push('-A PREROUTING -j mwan3_hook', '-A OUTPUT -j mwan3_hook');

  // mwan3_hook: restore, classify what is still unmarked, save, and send marked packets to connected
  // destinations to the main table (for this packet only: after the save).
  m.push(`-A mwan3_hook ${unmarked} -j CONNMARK --restore-mark --nfmask ${M} --ctmask ${M}`);
  for (const c of ['mwan3_ifaces_in', 'mwan3_custom_ipv4', 'mwan3_connected_ipv4', 'mwan3_dynamic_ipv4', 'mwan3_rules']) {
    m.push(`-A mwan3_hook ${unmarked} -j ${c}`);
  }
  m.push(`-A mwan3_hook -j CONNMARK --save-mark --nfmask ${M} --ctmask ${M}`);
  for (const c of ['mwan3_custom_ipv4', 'mwan3_connected_ipv4', 'mwan3_dynamic_ipv4']) {
    m.push(`-A mwan3_hook -m mark ! --mark ${DEFAULT} -j ${c}`);
  }

  // Inbound connections are answered through the WAN they came in on.
  for (const w of o.wans) {
    m.push(`-A mwan3_ifaces_in ${unmarked} -j mwan3_iface_in_${w.name}`);
    // ipset `-m set --match-set mwan3_connected_ipv4 src`, one rule per network (no ipset under iptables-nft).
    for (const net of connected) {
      m.push(`-A mwan3_iface_in_${w.name} -i ${w.dev} -s ${net} ${unmarked} ${comment('default')} -j MARK --set-xmark ${DEFAULT}`);
    }
    m.push(`-A mwan3_iface_in_${w.name} -i ${w.dev} ${unmarked} ${comment(w.name)} -j MARK --set-xmark ${mark(w)}`);
  }

  // ipset `-m set --match-set mwan3_connected_ipv4 dst`, one rule per network.
  for (const net of connected) m.push(`-A mwan3_connected_ipv4 -d ${net} -j MARK --set-xmark ${DEFAULT}`);

  // The user rules, one iptables rule each, evaluated in order; then the default rule.
  for (let i = 0; i < o.rules; i++) {
    m.push(`-A mwan3_rules -d ${dest(i)}/32 ${unmarked} ${comment(`pin${i}`)} -j ${pinPolicy}`);
  }
  m.push(`-A mwan3_rules -d 0.0.0.0/0 ${unmarked} ${comment('default_rule_v4')} -j ${defaultPolicy}`);

  m.push(`-A ${pinPolicy} ${unmarked} ${comment(`${first.name} 1 1`)} -j MARK --set-xmark ${mark(first)}`);
  const totalWeight = o.wans.reduce((s, w) => s + (w.weight ?? 1), 0);
  for (const r of statisticRules(o.wans)) {
    const stat = r.probability === null ? '' : ` -m statistic --mode random --probability ${r.probability.toFixed(5)}`;
    m.push(`-A ${defaultPolicy} ${unmarked}${stat} ${comment(`${r.wan.name} ${r.wan.weight ?? 1} ${totalWeight}`)} -j MARK --set-xmark ${mark(r.wan)}`);
  }
  m.push('COMMIT');

  // fw4's zone masquerade on every WAN (mwan3 itself leaves NAT to the firewall).
  const n = ['*nat', ':POSTROUTING ACCEPT [0:0]', ...o.wans.map((w) => `-A POSTROUTING -o ${w.dev} -j MASQUERADE`), 'COMMIT'];

  const ipRules: string[][] = [];
  const ipUndo: string[][] = [];
  for (const w of o.wans) {
    const table = String(1000 + w.id);
    const fwmark = mark(w);
    ipRules.push(['-4', 'rule', 'add', 'pref', String(1000 + w.id), 'iif', w.dev, 'lookup', table]);
    ipRules.push(['-4', 'rule', 'add', 'pref', String(2000 + w.id), 'fwmark', fwmark, 'lookup', table]);
    ipRules.push(['-4', 'rule', 'add', 'pref', String(3000 + w.id), 'fwmark', fwmark, 'unreachable']);
    for (const r of o.mirror ?? []) ipRules.push(['-4', 'route', 'add', r.dst, 'dev', r.dev, 'table', table]);
    ipRules.push(['-4', 'route', 'add', 'default', ...(w.gateway ? ['via', w.gateway] : []), 'dev', w.dev, 'table', table]);
    for (const pref of [1000, 2000, 3000]) ipUndo.push(['-4', 'rule', 'del', 'pref', String(pref + w.id)]);
    ipUndo.push(['-4', 'route', 'flush', 'table', table]);
  }

  return { iptables: `${m.join('\n')}\n${n.join('\n')}\n`, ipRules, ipUndo, pinPolicy, defaultPolicy };
}
