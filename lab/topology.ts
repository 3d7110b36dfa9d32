// Builds the multi-WAN lab: two LANs, a gateway with 2-3 WAN links, one ISP namespace per WAN, and a server behind every ISP.
import type { Lab } from './netns.js';

export type WanIndex = 1 | 2 | 3 | 4;

function wan(k: WanIndex) {
  const base = 8 * (k - 1);
  return {
    /** Namespace of ISP k. */
    ns: `isp${k}`,
    /** The gateway's device on ISP k's customer link. */
    dev: `wan${k}`,
    /** The gateway's address on it: the only source ISP k forwards from the customer. */
    addr: `198.51.100.${base + 2}`,
    /** ISP k's router on the customer link: the gateway's next hop. */
    gateway: `198.51.100.${base + 1}`,
    prefix: `198.51.100.${base}/29`,
    len: 29,
    /** Metric of the gateway's main-table default route through this WAN, as netifd would set it. */
    metric: 10 * k,
    addr6: `2001:db8:${k}::2`,
    gateway6: `2001:db8:${k}::1`,
    prefix6: `2001:db8:${k}::/64`,
    len6: 64,
    /** ISP k's link to the server: `uplink` in the ISP namespace (not `up`, a keyword of `ip link`), `up${k}` in the server's. */
    upstream: {
      ispDev: 'uplink',
      srvDev: `up${k}`,
      isp: `10.255.${k}.1`,
      srv: `10.255.${k}.2`,
      len: 30,
      isp6: `fd00:255:${k}::1`,
      srv6: `fd00:255:${k}::2`,
      len6: 64,
    },
  } as const;
}

/** Every address of the lab: the contract tests and nft-mwan configs are written against. */
export const LAB_NET = {
  lan: {
    ns: 'lan',
    dev: 'eth0',
    addr: '192.168.10.2',
    gwDev: 'lan0',
    gwAddr: '192.168.10.1',
    prefix: '192.168.10.0/24',
    len: 24,
    addr6: '2001:db8:10::2',
    gwAddr6: '2001:db8:10::1',
    prefix6: '2001:db8:10::/64',
    len6: 64,
  },
  lan2: {
    ns: 'lan2',
    dev: 'eth0',
    addr: '192.168.20.2',
    gwDev: 'lan1',
    gwAddr: '192.168.20.1',
    prefix: '192.168.20.0/24',
    len: 24,
    addr6: '2001:db8:20::2',
    gwAddr6: '2001:db8:20::1',
    prefix6: '2001:db8:20::/64',
    len6: 64,
  },
  gw: { ns: 'gw' },
  wan: { 1: wan(1), 2: wan(2), 3: wan(3), 4: wan(4) },
  server: {
    ns: 'srv',
    /** Two addresses, so tests can tell destinations apart (e.g. a rule for one host only). */
    addrs: ['192.0.2.10', '192.0.2.20'],
    prefix: '192.0.2.0/24',
    addrs6: ['2001:db8:ff::10', '2001:db8:ff::20'],
    prefix6: '2001:db8:ff::/64',
  },
} as const;

export type UpstreamState =
  /** Forwarding normally. */
  | 'up'
  /** Silently drops everything it would forward (the ISP's router still answers on the customer link). */
  | 'drop'
  /** Answers forwarded packets from the customer with ICMP host unreachable. */
  | 'reject'
  /** The link to the server is down: the ISP has no route and answers with ICMP network unreachable. */
  | 'down';

export interface MultiWanOptions {
  /** How many WANs (and ISPs): 2 to 4. */
  wans: 2 | 3 | 4;
  /** Also give every link and host the `*6` addresses of LAB_NET, with routes and the anti-spoofing rule. */
  ipv6?: boolean;
}

export interface CounterValue {
  packets: number;
  bytes: number;
}

interface NftCounterJson {
  nftables: { counter?: { name: string; packets: number; bytes: number } }[];
}

/** Anti-spoofing as real ISPs do it: from the customer, only the customer's own address is forwarded. */
function ispFilter(k: WanIndex): string {
  const w = LAB_NET.wan[k];
  return `table inet ispfilter {
  counter spoofed { }
  counter passed { }
  chain forward_filter {
    type filter hook forward priority 0; policy accept;
    iifname "cust" ip saddr != ${w.addr} counter name "spoofed" drop
    iifname "cust" ip6 saddr != ${w.addr6} counter name "spoofed" drop
    iifname "cust" counter name "passed"
  }
}
`;
}

/** Runs before ispfilter so a cut upstream is cut for everything. */
function ispCut(state: 'drop' | 'reject'): string {
  const verdict = state === 'drop' ? '' : '\n    iifname "cust" reject with icmpx type host-unreachable';
  return `table inet ispcut {
  chain forward_filter {
    type filter hook forward priority -10; policy drop;${verdict}
  }
}
`;
}

/**
 * Random loss on everything the ISP forwards, both ways. Runs before ispcut and ispfilter, so a
 * lost packet is lost whatever the upstream state, and the anti-spoofing counters only see survivors.
 */
function ispLoss(percent: number): string {
  // `<= percent - 1`, not `< percent`: nft refuses 100 as out of range for `mod 100`.
  return `table inet isploss {
  chain forward_loss {
    type filter hook forward priority -20; policy accept;
    numgen random mod 100 <= ${percent - 1} drop
  }
}
`;
}

/** The built topology, with the knobs tests turn (upstream cuts, carrier loss, packet loss) and what they read (ISP counters). */
export class MultiWan {
  readonly net = LAB_NET;
  private readonly upstream = new Map<WanIndex, UpstreamState>();
  private readonly lossPercent = new Map<WanIndex, number>();

  constructor(
    readonly lab: Lab,
    /** The WANs built, e.g. [1, 2]. */
    readonly wans: readonly WanIndex[],
    readonly ipv6: boolean,
  ) {
    for (const k of wans) this.upstream.set(k, 'up');
  }

  /** Short namespace names, for lab.exec/spawn. */
  readonly ns = { lan: 'lan', lan2: 'lan2', gw: 'gw', srv: 'srv', isp: (k: WanIndex) => `isp${k}` } as const;

  /**
   * ISP k's anti-spoofing counter ("spoofed": dropped because the source was not the gateway's WAN address) and its
   * forwarded-from-customer counter ("passed").
   */
  async ispCounters(k: WanIndex): Promise<{ spoofed: CounterValue; passed: CounterValue }> {
    this.check(k);
    const r = await this.lab.exec(this.ns.isp(k), 'nft', ['-j', 'list', 'counters', 'table', 'inet', 'ispfilter']);
    const counters = (JSON.parse(r.stdout) as NftCounterJson).nftables.flatMap((o) => (o.counter ? [o.counter] : []));
    const get = (name: string): CounterValue => {
      const c = counters.find((x) => x.name === name);
      if (!c) throw new Error(`isp${k}: counter ${name} missing from ${r.stdout}`);
      return { packets: c.packets, bytes: c.bytes };
    };
    return { spoofed: get('spoofed'), passed: get('passed') };
  }

  /** Packets ISP k dropped because their source was not the gateway's address on that ISP. */
  async ispDrops(k: WanIndex): Promise<number> {
    return (await this.ispCounters(k)).spoofed.packets;
  }

  upstreamState(k: WanIndex): UpstreamState {
    this.check(k);
    return this.upstream.get(k) ?? 'up';
  }

  /** Cuts or restores ISP k's way to the server; the customer link stays up, as when an ISP fails upstream. */
  async setUpstream(k: WanIndex, state: UpstreamState): Promise<void> {
    const ns = this.ns.isp(k);
    const was = this.upstreamState(k);
    if (was === state) return;
    if (was === 'drop' || was === 'reject') await this.lab.exec(ns, 'nft', ['delete', 'table', 'inet', 'ispcut']);
    if (was === 'down') {
      await this.lab.ip(ns, ['link', 'set', 'dev', LAB_NET.wan[k].upstream.ispDev, 'up']);
      // Taking a link down deletes the routes through it; bring them back.
      await ispRoutes(this.lab, k, this.ipv6);
    }
    if (state === 'drop' || state === 'reject') await this.lab.nft(ns, ispCut(state));
    if (state === 'down') await this.lab.ip(ns, ['link', 'set', 'dev', LAB_NET.wan[k].upstream.ispDev, 'down']);
    this.upstream.set(k, state);
  }

  /** The percentage of forwarded packets ISP k drops at random (0: none). */
  loss(k: WanIndex): number {
    this.check(k);
    return this.lossPercent.get(k) ?? 0;
  }

  /**
   * A lossy ISP: ISP k drops `percent`% of the packets it forwards, customer to server and server
   * to customer alike, each packet on its own draw. Independent of setUpstream; 0 removes it.
   */
  async setLoss(k: WanIndex, percent: number): Promise<void> {
    if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
      throw new Error(`loss must be a whole percentage from 0 to 100, got ${percent}`);
    }
    const was = this.loss(k);
    if (was === percent) return;
    const ns = this.ns.isp(k);
    if (percent === 0) await this.lab.exec(ns, 'nft', ['delete', 'table', 'inet', 'isploss']);
    // Replaced in one transaction, so changing the rate leaves no moment without loss.
    else await this.lab.nft(ns, (was > 0 ? 'delete table inet isploss\n' : '') + ispLoss(percent));
    this.lossPercent.set(k, percent);
  }

  /**
   * Carrier loss on the gateway's wan k, as when a cable is pulled: the ISP's end goes down, so the
   * gateway's device stays administratively up but reports NO-CARRIER. Back up, the gateway's
   * default route through it is (re)installed as netifd would on link up.
   */
  async setCarrier(k: WanIndex, state: 'up' | 'down'): Promise<void> {
    this.check(k);
    await this.lab.ip(this.ns.isp(k), ['link', 'set', 'dev', 'cust', state]);
    if (state === 'up') await gatewayDefaultRoutes(this.lab, [k], this.ipv6);
  }

  private check(k: WanIndex): void {
    if (!this.wans.includes(k)) throw new Error(`this lab has no wan${k} (wans: ${this.wans.join(', ')})`);
  }
}

/** ISP k's route to the server, and the server's route back to ISP k's customer block. */
async function ispRoutes(lab: Lab, k: WanIndex, ipv6: boolean): Promise<void> {
  const w = LAB_NET.wan[k];
  const s = LAB_NET.server;
  const up = w.upstream;
  await lab.ip(w.ns, ['route', 'replace', s.prefix, 'via', up.srv, 'dev', up.ispDev]);
  await lab.ip(s.ns, ['route', 'replace', w.prefix, 'via', up.isp, 'dev', up.srvDev]);
  if (ipv6) {
    await lab.ip(w.ns, ['-6', 'route', 'replace', s.prefix6, 'via', up.srv6, 'dev', up.ispDev]);
    await lab.ip(s.ns, ['-6', 'route', 'replace', w.prefix6, 'via', up.isp6, 'dev', up.srvDev]);
  }
}

/** One main-table default route per WAN with increasing metrics, as netifd installs them. */
async function gatewayDefaultRoutes(lab: Lab, wans: readonly WanIndex[], ipv6: boolean): Promise<void> {
  for (const k of wans) {
    const w = LAB_NET.wan[k];
    const metric = String(w.metric);
    await lab.ip('gw', ['route', 'replace', 'default', 'via', w.gateway, 'dev', w.dev, 'metric', metric]);
    if (ipv6) await lab.ip('gw', ['-6', 'route', 'replace', 'default', 'via', w.gateway6, 'dev', w.dev, 'metric', metric]);
  }
}

/** Adds an address (v4, and v6 when enabled) and brings the device up. */
async function configure(lab: Lab, ns: string, dev: string, v4: string, v6: string | undefined): Promise<void> {
  await lab.ip(ns, ['addr', 'add', v4, 'dev', dev]);
  // nodad: a tentative address cannot be used for a second or so, and nothing here can collide.
  if (v6 !== undefined) await lab.ip(ns, ['-6', 'addr', 'add', v6, 'dev', dev, 'nodad']);
  await lab.ip(ns, ['link', 'set', 'dev', dev, 'up']);
}

/** Forwarding, no reverse-path filter, and for IPv6 no DAD delay and addresses kept across link down. */
function baseSysctls(forward: boolean, ipv6: boolean): Record<string, number> {
  const s: Record<string, number> = {
    'net.ipv4.conf.all.rp_filter': 0,
    'net.ipv4.conf.default.rp_filter': 0,
    'net.ipv4.ip_forward': forward ? 1 : 0,
  };
  if (ipv6) {
    Object.assign(s, {
      'net.ipv6.conf.all.forwarding': forward ? 1 : 0,
      'net.ipv6.conf.all.accept_dad': 0,
      'net.ipv6.conf.default.accept_dad': 0,
      'net.ipv6.conf.all.keep_addr_on_down': 1,
      'net.ipv6.conf.default.keep_addr_on_down': 1,
    });
  }
  return s;
}

/**
 * Builds the topology in `lab` (see LAB_NET for every address):
 *
 *   lan  (192.168.10.2) --- lan0 \                   / cust  isp1  uplink --- up1 \
 *                                 gw  wan1 .. wanN ---   ...                    srv  192.0.2.10, .20
 *   lan2 (192.168.20.2) --- lan1 /                   \ cust  ispN  uplink --- upN /
 *
 * The gateway forwards but has no NAT and no policy routing: that is nft-mwan's job.
 */
export async function buildMultiWan(lab: Lab, options: MultiWanOptions): Promise<MultiWan> {
  const ipv6 = options.ipv6 ?? false;
  const wans = ([1, 2, 3, 4] as const).slice(0, options.wans) as WanIndex[];
  const { lan, lan2, server } = LAB_NET;

  // Sequential: concurrent `ip netns add` race to set up /run/netns on a fresh machine.
  for (const ns of ['gw', 'lan', 'lan2', 'srv', ...wans.map((k) => `isp${k}`)]) await lab.addNamespace(ns);

  // Defaults first, so every device created afterwards inherits them.
  await Promise.all([
    lab.sysctl('gw', baseSysctls(true, ipv6)),
    ...wans.map((k) => lab.sysctl(`isp${k}`, baseSysctls(true, ipv6))),
    ...['lan', 'lan2', 'srv'].map((ns) => lab.sysctl(ns, baseSysctls(false, ipv6))),
  ]);

  await lab.addVeth({ ns: 'gw', dev: lan.gwDev }, { ns: lan.ns, dev: lan.dev });
  await lab.addVeth({ ns: 'gw', dev: lan2.gwDev }, { ns: lan2.ns, dev: lan2.dev });
  for (const k of wans) {
    const w = LAB_NET.wan[k];
    await lab.addVeth({ ns: 'gw', dev: w.dev }, { ns: w.ns, dev: 'cust' });
    await lab.addVeth({ ns: w.ns, dev: w.upstream.ispDev }, { ns: server.ns, dev: w.upstream.srvDev });
  }

  const v6 = <T>(value: T): T | undefined => (ipv6 ? value : undefined);
  await Promise.all([
    (async () => {
      for (const l of [lan, lan2]) {
        await configure(lab, 'gw', l.gwDev, `${l.gwAddr}/${l.len}`, v6(`${l.gwAddr6}/${l.len6}`));
        await configure(lab, l.ns, l.dev, `${l.addr}/${l.len}`, v6(`${l.addr6}/${l.len6}`));
        await lab.ip(l.ns, ['route', 'add', 'default', 'via', l.gwAddr]);
        if (ipv6) await lab.ip(l.ns, ['-6', 'route', 'add', 'default', 'via', l.gwAddr6]);
      }
    })(),
    (async () => {
      for (const [i, a] of server.addrs.entries()) {
        await lab.ip(server.ns, ['addr', 'add', `${a}/32`, 'dev', 'lo']);
        const a6 = server.addrs6[i];
        if (ipv6 && a6 !== undefined) await lab.ip(server.ns, ['-6', 'addr', 'add', `${a6}/128`, 'dev', 'lo', 'nodad']);
      }
    })(),
    ...wans.map(async (k) => {
      const w = LAB_NET.wan[k];
      const up = w.upstream;
      await configure(lab, 'gw', w.dev, `${w.addr}/${w.len}`, v6(`${w.addr6}/${w.len6}`));
      await configure(lab, w.ns, 'cust', `${w.gateway}/${w.len}`, v6(`${w.gateway6}/${w.len6}`));
      await configure(lab, w.ns, up.ispDev, `${up.isp}/${up.len}`, v6(`${up.isp6}/${up.len6}`));
      await configure(lab, server.ns, up.srvDev, `${up.srv}/${up.len}`, v6(`${up.srv6}/${up.len6}`));
      await ispRoutes(lab, k, ipv6);
      await lab.nft(w.ns, ispFilter(k));
    }),
  ]);

  // Explicit per device too: the effective rp_filter is the maximum of "all" and the device's own.
  const gwDevices = [lan.gwDev, lan2.gwDev, ...wans.map((k) => LAB_NET.wan[k].dev)];
  await lab.sysctl('gw', Object.fromEntries(gwDevices.map((d) => [`net.ipv4.conf.${d}.rp_filter`, 0])));
  await gatewayDefaultRoutes(lab, wans, ipv6);
  return new MultiWan(lab, wans, ipv6);
}

/**
 * Internet addresses a real config tracks (8.8.8.8, 1.1.1.1, ...) as hosts of the lab's server, reachable
 * through every ISP of `topo`: an imported mwan3 config keeps its own track_ip targets unedited. Each address
 * goes on the server's loopback, with a route to it in every ISP. An ISP cut with setUpstream(k, 'drop' |
 * 'reject') cuts them too; 'down' deletes these routes with the link and restores only the server's prefix.
 */
export async function addServerHosts(topo: MultiWan, addrs: readonly string[]): Promise<void> {
  const { lab } = topo;
  for (const a of addrs) {
    await lab.ip(LAB_NET.server.ns, ['addr', 'replace', `${a}/32`, 'dev', 'lo']);
    for (const k of topo.wans) {
      const up = LAB_NET.wan[k].upstream;
      await lab.ip(LAB_NET.wan[k].ns, ['route', 'replace', `${a}/32`, 'via', up.srv, 'dev', up.ispDev]);
    }
  }
}
