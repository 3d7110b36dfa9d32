// Where a packet's CPU time goes: `perf script` callchains (cpu-clock samples) sorted into the parts of the forwarding path.
//
// The data-plane benchmark records one extra SYN burst per run under `perf record -e cpu-clock -g` (a
// software clock: no hardware counters needed, so it works in a VM). Every sample of the packet path,
// on the CPU trafgen ran on, is put in the deepest part
// of the path its callchain passes through, so a masquerade inside a NAT chain counts as NAT and a fib
// rule lookup inside the routing code counts as policy rules. Samples per packet, times the sampling
// period, is CPU time per packet. A sample is on the packet path when its callchain passes through
// the packet socket's send or the softirq that receives (trafgen's own packet building, the idle loop
// and the benchmark's other processes are not). perf's own sampling slows everything down, so these figures are for
// comparing setups with each other (each against ECMP measured the same way), not with the rates.

export const PROFILE_PARTS = ['filterChains', 'nat', 'conntrack', 'policyRules', 'routing', 'rest'] as const;
export type ProfilePart = (typeof PROFILE_PARTS)[number];

export const PART_LABELS: Record<ProfilePart, string> = {
  filterChains: 'nftables filter/route chains',
  nat: 'NAT (masquerade and its chains)',
  conntrack: 'conntrack',
  policyRules: 'ip rules (fib rules lookup)',
  routing: 'rest of the route lookup',
  rest: 'everything else (trafgen, veth, forwarding, ISP, server)',
};

/**
 * Kernel functions that start each part. A callchain is read from its leaf up and belongs to the part
 * of the first of these functions it meets (so the table lookup a fib rule's action makes is routing,
 * and the rules part is what walking the rules costs). The filter chains are every base chain that is not
 * NAT: nft-mwan's and the mark-floor's (inet), iptables-nft's mangle (ip), and, the same in every setup,
 * the ISPs' and the server's.
 */
const PART_ROOTS: [ProfilePart, readonly string[]][] = [
  ['policyRules', ['fib_rules_lookup']],
  ['filterChains', ['nft_do_chain_inet', 'nft_do_chain_ipv4', 'nft_do_chain_ipv6', 'nf_route_table_hook4', 'nf_route_table_inet', 'nft_do_chain_netdev']],
  ['nat', ['nf_nat_inet_fn', 'nf_nat_ipv4_fn', 'nf_nat_ipv4_out', 'nf_nat_ipv4_pre_routing', 'nf_nat_ipv4_local_fn', 'nf_nat_ipv4_local_in']],
  ['conntrack', ['nf_conntrack_in', 'ipv4_conntrack_in', 'nf_confirm', 'ipv4_confirm', '__nf_conntrack_confirm']],
  ['routing', ['ip_route_input_noref', 'ip_route_input_slow', 'ip_route_input_rcu', 'ip_route_output_key_hash', 'fib_table_lookup']],
];
const ROOT_OF = new Map<string, ProfilePart>(PART_ROOTS.flatMap(([part, fns]) => fns.map((f): [string, ProfilePart] => [f, part])));

export interface ProfileCount {
  /** Samples of the packet path in each part. */
  samples: Record<ProfilePart, number>;
  /** All samples of the packet path (the sum of `samples`). */
  total: number;
  /** Samples on that CPU off the packet path: idle, trafgen building packets, other processes (not counted). */
  outsidePath: number;
  /** Samples on other CPUs (not counted). */
  otherCpus: number;
}

const emptyParts = (): Record<ProfilePart, number> => Object.fromEntries(PROFILE_PARTS.map((p) => [p, 0])) as Record<ProfilePart, number>;

/** Functions that put a sample on the packet path: sending from the packet socket, or receiving in softirq. */
const PATH_MARKERS = new Set(['tpacket_snd', 'packet_snd', 'packet_sendmsg', 'net_rx_action', 'process_backlog', '__netif_receive_skb_core']);

/** `ffffffff81e60f6d nf_hook_slow+0x44` or `... nf_hook_slow` → nf_hook_slow. */
function frameSymbol(line: string): string {
  const sym = line.trim().split(/\s+/)[1] ?? '';
  return sym.replace(/\+0x[0-9a-f]+$/, '');
}

/**
 * Counts `perf script -F comm,cpu,ip,sym` output: one header line per sample (`trafgen [000]`; the
 * command may contain spaces, or be `:PID`) followed by its callchain, leaf first. Only samples on
 * `cpu` whose callchain is on the packet path count.
 */
export function countProfile(perfScript: string, cpu: number): ProfileCount {
  const out: ProfileCount = { samples: emptyParts(), total: 0, outsidePath: 0, otherCpus: 0 };
  for (const block of perfScript.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    const header = lines[0];
    if (header === undefined) continue;
    const m = /^\s*(.*?)\s+\[(\d+)\]/.exec(header);
    if (!m) throw new Error(`perf script: a sample without "COMMAND [CPU]": ${header}`);
    if (Number(m[2]) !== cpu) {
      out.otherCpus++;
      continue;
    }
    const frames = lines.slice(1).map(frameSymbol);
    if (!frames.some((f) => PATH_MARKERS.has(f))) {
      out.outsidePath++;
      continue;
    }
    let part: ProfilePart = 'rest';
    for (const frame of frames) {
      const p = ROOT_OF.get(frame);
      if (p) {
        part = p;
        break;
      }
    }
    out.samples[part]++;
    out.total++;
  }
  return out;
}

/** Microseconds of CPU per packet in each part, and in all. */
export interface PacketCost {
  us: Record<ProfilePart, number>;
  totalUs: number;
  samples: number;
}

export function packetCost(count: ProfileCount, frequencyHz: number, packets: number): PacketCost {
  if (!(packets > 0)) throw new Error(`packetCost: no packets (${packets})`);
  const perSample = 1e6 / frequencyHz / packets;
  const us = emptyParts();
  for (const p of PROFILE_PARTS) us[p] = count.samples[p] * perSample;
  return { us, totalUs: count.total * perSample, samples: count.total };
}

/** Part by part mean of some costs (the ECMP runs around a run). */
export function meanCost(costs: readonly PacketCost[]): PacketCost {
  const n = costs.length;
  if (n === 0) throw new Error('meanCost: nothing to average');
  const us = emptyParts();
  for (const p of PROFILE_PARTS) us[p] = costs.reduce((sum, c) => sum + c.us[p], 0) / n;
  return { us, totalUs: costs.reduce((sum, c) => sum + c.totalUs, 0) / n, samples: costs.reduce((sum, c) => sum + c.samples, 0) };
}
