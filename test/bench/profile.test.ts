// The data-plane profile: perf script callchains sorted into the parts of the forwarding path, per packet.
import { describe, expect, it } from 'vitest';
import { costSummaries, type DataplaneRow } from '../../scripts/bench/dataplane.js';
import { countProfile, meanCost, packetCost, PROFILE_PARTS, type PacketCost } from '../../scripts/bench/profile.js';

/** One perf script sample: header, then the callchain leaf first (as `perf script -F comm,cpu,ip,sym` prints it). */
const sample = (comm: string, cpu: number, frames: string[]) =>
  [`${comm.padStart(16)} [${String(cpu).padStart(3, '0')}] `, ...frames.map((f, i) => `\t${(0xffffffff81000000 + i).toString(16)} ${f}`)].join('\n');

// The bottom of every packet-path chain: trafgen's send, veth, the softirq that runs the gateway.
const sendPath = ['ip_rcv', '__netif_receive_skb_core', 'process_backlog', 'net_rx_action', 'handle_softirqs', 'veth_xmit', 'packet_snd', 'packet_sendmsg'];
const onPath = (leaf: string[]) => [...leaf, ...sendPath];

const script = [
  // A filter chain's set lookup: filter chains.
  sample(
    'trafgen',
    0,
    onPath(['nft_array_lookup_cmp', 'bsearch', 'nft_rbtree_lookup', 'nft_lookup_eval', 'nft_do_chain', 'nft_do_chain_inet', 'nf_hook_slow']),
  ),
  // iptables-nft's mangle chain (ip family): filter chains too.
  sample('trafgen', 0, onPath(['nft_cmp_eval', 'nft_do_chain', 'nft_do_chain_ipv4', 'nf_hook_slow'])),
  // Masquerade runs inside a NAT chain (nft_do_chain under nf_nat_inet_fn): NAT, not filter chains.
  sample(
    'trafgen',
    0,
    onPath(['inet_select_addr', 'nf_nat_masquerade_ipv4', 'nft_masq_eval', 'nft_do_chain', 'nft_nat_do_chain', 'nf_nat_inet_fn', 'nf_hook_slow']),
  ),
  // Walking the ip rules: policy rules; the table lookup a rule's action makes: routing.
  sample('trafgen', 0, onPath(['fib4_rule_match', 'fib_rules_lookup', 'ip_route_input_slow', 'ip_route_input_noref'])),
  sample('trafgen', 0, onPath(['fib_table_lookup', 'fib4_rule_action', 'fib_rules_lookup', 'ip_route_input_slow'])),
  sample('ksoftirqd/0', 0, onPath(['__nf_conntrack_find_get', 'nf_conntrack_in', 'nf_hook_slow'])),
  // On the path but in none of the parts: the rest (forwarding, veth, the server).
  sample(':18381', 0, onPath(['ip_forward'])),
  // trafgen building packets in user space, the idle loop, another process, another CPU: not counted.
  sample('trafgen', 0, ['[unknown]']),
  sample('swapper', 0, ['pv_native_safe_halt', 'default_idle', 'do_idle']),
  sample('node', 0, ['do_syscall_64', 'entry_SYSCALL_64_after_hwframe']),
  sample('trafgen', 1, onPath(['nft_do_chain', 'nft_do_chain_inet'])),
].join('\n\n');

describe('countProfile', () => {
  it('puts each packet-path sample on the CPU in the deepest part its chain passes through', () => {
    const c = countProfile(script, 0);
    expect(c.samples).toEqual({ filterChains: 2, nat: 1, conntrack: 1, policyRules: 1, routing: 1, rest: 1 });
    expect(c.total).toBe(7);
    expect(c.outsidePath).toBe(3);
    expect(c.otherCpus).toBe(1);
  });

  it('counts the other CPU when asked for it', () => {
    const c = countProfile(script, 1);
    expect(c.total).toBe(1);
    expect(c.samples.filterChains).toBe(1);
    expect(c.otherCpus).toBe(10);
  });

  it('refuses a sample without a CPU column', () => {
    expect(() => countProfile('trafgen\n\tffffffff81000000 ip_rcv', 0)).toThrow(/COMMAND \[CPU\]/);
  });
});

describe('packetCost', () => {
  it('turns samples into microseconds of CPU per packet', () => {
    // 7 samples at 1 kHz = 7 ms over 1,000 packets = 7 µs each; 2 of them in filter chains.
    const cost = packetCost(countProfile(script, 0), 1000, 1000);
    expect(cost.totalUs).toBeCloseTo(7);
    expect(cost.us.filterChains).toBeCloseTo(2);
    expect(cost.samples).toBe(7);
  });

  it('refuses a burst that delivered nothing', () => {
    expect(() => packetCost(countProfile(script, 0), 1000, 0)).toThrow(/no packets/);
  });
});

const cost = (filterChains: number, rest: number): PacketCost => {
  const us = Object.fromEntries(PROFILE_PARTS.map((p) => [p, 0])) as PacketCost['us'];
  us.filterChains = filterChains;
  us.rest = rest;
  return { us, totalUs: filterChains + rest, samples: 100 };
};

describe('costSummaries', () => {
  it('reads every run against the ECMP runs around it, part by part, and takes medians over rounds', () => {
    const row: DataplaneRow = {
      setup: 'nft-mwan',
      rules: 0,
      newConnPps: [1, 1, 1],
      throughputMbps: [1, 1, 1],
      ecmpNewConnPps: [1, 1, 1],
      ecmpThroughputMbps: [1, 1, 1],
      // The machine is 2x slower in round 2: the rest doubles for both, the difference in filter chains stays.
      cost: [cost(1.5, 10), cost(3, 20), cost(1.6, 10)],
      ecmpCost: [meanCost([cost(1, 10), cost(1, 10)]), cost(2, 20), meanCost([cost(0.9, 10), cost(1.1, 10)])],
    };
    const [s] = costSummaries([row]);
    expect(s?.extraUs.filterChains).toBeCloseTo(0.6);
    expect(s?.extraUs.rest).toBeCloseTo(0);
    expect(s?.extraTotalUs).toBeCloseTo(0.6);
    expect(s?.vsEcmp).toBeCloseTo(11.5 / 11);
    expect(s?.totalUs).toBeCloseTo(11.6);
  });

  it('leaves out rows without a profile', () => {
    const row: DataplaneRow = { setup: 'ecmp', rules: 0, newConnPps: [1], throughputMbps: [1], ecmpNewConnPps: [1], ecmpThroughputMbps: [1] };
    expect(costSummaries([row])).toEqual([]);
  });
});
