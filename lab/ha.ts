// Builds the HA lab: two gateways sharing a LAN bridge and three WAN bridges, a sync link, ISPs that forward only the VRRP address, a server; keepalived and conntrackd per gateway.
import { execa } from 'execa';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackgroundProcess, Lab } from './netns.js';

export type HaNode = 'gw1' | 'gw2';
export type HaWan = 1 | 2 | 3;
export const HA_NODES: readonly HaNode[] = ['gw1', 'gw2'];
export const HA_WANS: readonly HaWan[] = [1, 2, 3];

function haWan(k: HaWan) {
  const base = 8 * (k - 1);
  return {
    ns: `isp${k}`,
    /** The gateways' device on this WAN segment (the `device` of interface wanK in the nft-mwan config). */
    dev: `wan${k}`,
    prefix: `198.51.100.${base}/29`,
    len: 29,
    /** ISP k's router on the segment: both gateways' next hop. */
    gateway: `198.51.100.${base + 1}`,
    /** The VRRP address: the only source ISP k forwards from its customer. */
    vip: `198.51.100.${base + 2}`,
    /** Each gateway's own address on the segment (never forwarded by the ISP). */
    node: { gw1: `198.51.100.${base + 3}`, gw2: `198.51.100.${base + 4}` },
    vrid: 60 + k,
    upstream: { ispDev: 'uplink', srvDev: `up${k}`, isp: `10.255.${k}.1`, srv: `10.255.${k}.2`, len: 30 },
  } as const;
}

/** Every address of the HA lab. */
export const HA_NET = {
  lan: {
    ns: 'lan',
    /** The bridge in the LAN host's namespace: the host's address lives on it, the gateways plug into it. */
    bridge: 'br0',
    addr: '192.168.50.10',
    prefix: '192.168.50.0/24',
    len: 24,
    /** The gateways' device on the LAN segment. */
    dev: 'lan0',
    vip: '192.168.50.1',
    node: { gw1: '192.168.50.2', gw2: '192.168.50.3' },
    vrid: 60,
  },
  /** A bridge's port towards each gateway, in the LAN's and every ISP's namespace. */
  port: { gw1: 'ga', gw2: 'gb' },
  wan: { 1: haWan(1), 2: haWan(2), 3: haWan(3) },
  sync: { dev: 'sync0', node: { gw1: '192.168.254.1', gw2: '192.168.254.2' }, len: 30 },
  server: { ns: 'srv', addr: '192.0.2.10' },
  /** keepalived priorities: gw1 is the preferred master. */
  priority: { gw1: 150, gw2: 100 },
} as const;

const CONTRIB = fileURLToPath(new URL('../contrib/ha/', import.meta.url));
export const HA_CONFIG_SCRIPT = join(CONTRIB, 'nft-mwan-ha-config');
export const HA_NOTIFY_SCRIPT = join(CONTRIB, 'nft-mwan-ha-notify');
/** The gateways' own firewall beside nft-mwan: drops invalid TCP so a takeover's first packets wait for the commit. */
export const HA_NFT_FILE = join(CONTRIB, 'nft-mwan-ha.nft');

/**
 * Anti-spoofing: from the customer segment (the bridge "cust") to the upstream, only the VRRP address is
 * forwarded. `oifname` matters: where br_netfilter is loaded (Docker loads it), frames bridged between
 * the gateways (keepalived's adverts) pass this hook too, with the bridge as both devices.
 */
function ispFilter(k: HaWan): string {
  const { ispDev } = HA_NET.wan[k].upstream;
  return `table inet ispfilter {
  counter spoofed { }
  counter passed { }
  chain forward_filter {
    type filter hook forward priority 0; policy accept;
    iifname "cust" oifname "${ispDev}" ip saddr != ${HA_NET.wan[k].vip} counter name "spoofed" drop
    iifname "cust" oifname "${ispDev}" counter name "passed"
  }
}
`;
}

export interface HaOptions {
  /** keepalived's advert_int in seconds (VRRPv3: fractions allowed); the master is declared dead after about 3 of them. */
  advertInt: number;
  /** Seconds a returning preferred node waits before taking over again (its conntrackd resyncs meanwhile). */
  preemptDelay: number;
}

interface NodeRuntime {
  dir: string;
  keepalivedConf: string;
  conntrackdConf: string;
  stateFile: string;
  vrrpPidFile: string;
  keepalived?: BackgroundProcess;
  conntrackd?: BackgroundProcess;
}

async function script(file: string, args: readonly string[]): Promise<string> {
  const r = await execa(file, args, { timeout: 5_000 });
  return String(r.stdout);
}

/** The built HA lab: node state, the knobs tests turn (a node dies, comes back) and what they read. */
export class HaLab {
  readonly net = HA_NET;
  private readonly runtime: Record<HaNode, NodeRuntime>;

  constructor(
    readonly lab: Lab,
    readonly dir: string,
    readonly options: HaOptions,
  ) {
    const node = (n: HaNode): NodeRuntime => {
      const d = join(dir, n);
      mkdirSync(d, { recursive: true });
      return {
        dir: d,
        keepalivedConf: join(d, 'keepalived.conf'),
        conntrackdConf: join(d, 'conntrackd.conf'),
        stateFile: join(d, 'ha-state'),
        vrrpPidFile: join(d, 'keepalived-vrrp.pid'),
      };
    };
    this.runtime = { gw1: node('gw1'), gw2: node('gw2') };
  }

  paths(n: HaNode): Readonly<NodeRuntime> {
    return this.runtime[n];
  }

  /** Writes both nodes' keepalived.conf and conntrackd.conf with contrib/ha/nft-mwan-ha-config. */
  async writeConfigs(): Promise<void> {
    for (const n of HA_NODES) {
      const rt = this.runtime[n];
      const peer: HaNode = n === 'gw1' ? 'gw2' : 'gw1';
      const vips = [
        `${HA_NET.lan.dev}=${HA_NET.lan.vip}/32=${HA_NET.lan.vrid}`,
        ...HA_WANS.map((k) => `${HA_NET.wan[k].dev}=${HA_NET.wan[k].vip}/32=${HA_NET.wan[k].vrid}`),
      ];
      const keepalived = await script(HA_CONFIG_SCRIPT, [
        'keepalived',
        '--name',
        n,
        '--priority',
        String(HA_NET.priority[n]),
        '--advert-int',
        String(this.options.advertInt),
        '--preempt-delay',
        String(this.options.preemptDelay),
        ...vips.flatMap((v) => ['--vip', v]),
        '--notify',
        HA_NOTIFY_SCRIPT,
        '--conntrackd-conf',
        rt.conntrackdConf,
        '--state-file',
        rt.stateFile,
      ]);
      writeFileSync(rt.keepalivedConf, keepalived);
      const ignore = [HA_NET.lan.vip, HA_NET.lan.node[n], ...HA_WANS.flatMap((k) => [HA_NET.wan[k].vip, HA_NET.wan[k].node[n]])];
      const conntrackd = await script(HA_CONFIG_SCRIPT, [
        'conntrackd',
        '--sync-dev',
        HA_NET.sync.dev,
        '--local',
        HA_NET.sync.node[n],
        '--peer',
        HA_NET.sync.node[peer],
        '--run-dir',
        rt.dir,
        ...ignore.flatMap((a) => ['--ignore', a]),
      ]);
      writeFileSync(rt.conntrackdConf, conntrackd);
    }
  }

  /** Starts conntrackd in the node's namespace (foreground, so its pid is known) and waits until it answers. */
  async startConntrackd(n: HaNode): Promise<void> {
    const rt = this.runtime[n];
    rmSync(join(rt.dir, 'conntrackd.lock'), { force: true });
    rt.conntrackd = this.lab.spawn(n, 'conntrackd', ['-C', rt.conntrackdConf]);
    await this.lab.waitFor(
      async () => {
        if (!rt.conntrackd?.running) throw new Error(`conntrackd in ${n} exited: ${rt.conntrackd?.stderr()} ${this.conntrackdLog(n)}`);
        return (await this.conntrackd(n, ['-s'], false)).exitCode === 0;
      },
      { timeoutMs: 10_000, intervalMs: 100, what: `conntrackd in ${n} to answer` },
    );
  }

  /**
   * Starts keepalived (VRRP only, foreground, logging to the console) with pid files of its own.
   * Its VRRP child, which holds the addresses, is killed by the pid it wrote, should it outlive the parent.
   */
  startKeepalived(n: HaNode): void {
    const rt = this.runtime[n];
    this.lab.defer(`kill keepalived's VRRP child in ${n}`, () => killFromPidFile(rt.vrrpPidFile, 'keepalived'));
    rt.keepalived = this.lab.spawn(n, 'keepalived', [
      '--dont-fork',
      '--log-console',
      '--log-detail',
      '--vrrp',
      '--use-file',
      rt.keepalivedConf,
      '--pid',
      join(rt.dir, 'keepalived.pid'),
      '--vrrp_pid',
      rt.vrrpPidFile,
      '--checkers_pid',
      join(rt.dir, 'keepalived-checkers.pid'),
    ]);
  }

  /** The last state the notify script recorded (master, backup, fault) and when (ms since the epoch). */
  haState(n: HaNode): { state: string; at: number } | null {
    try {
      const [state, at] = readFileSync(this.runtime[n].stateFile, 'utf8').trim().split(' ');
      return state && at ? { state, at: Number(at) } : null;
    } catch {
      return null;
    }
  }

  /** How many of the four VRRP addresses the node holds. */
  async vipsHeld(n: HaNode): Promise<number> {
    const r = await this.lab.ip(n, ['-4', '-o', 'addr', 'show']);
    const vips = [HA_NET.lan.vip, ...HA_WANS.map((k) => HA_NET.wan[k].vip)];
    return vips.filter((v) => r.stdout.includes(` ${v}/32 `)).length;
  }

  /** Waits until `n` is master with every VRRP address and the other node holds none. */
  async waitMaster(n: HaNode, timeoutMs: number): Promise<void> {
    const other: HaNode = n === 'gw1' ? 'gw2' : 'gw1';
    await this.lab.waitFor(async () => this.haState(n)?.state === 'master' && (await this.vipsHeld(n)) === 4 && (await this.vipsHeld(other)) === 0, {
      timeoutMs,
      intervalMs: 50,
      what: `${n} master with all 4 addresses (${n}: ${JSON.stringify(this.haState(n))}, ${other}: ${JSON.stringify(this.haState(other))})`,
    });
  }

  /** `conntrackd -C CONF ARGS` inside the node's namespace. */
  conntrackd(n: HaNode, args: readonly string[], reject = true) {
    return this.lab.exec(n, 'conntrackd', ['-C', this.runtime[n].conntrackdConf, ...args], { reject, timeoutMs: 10_000 });
  }

  conntrackdLog(n: HaNode): string {
    try {
      return readFileSync(join(this.runtime[n].dir, 'conntrackd.log'), 'utf8');
    } catch {
      return '';
    }
  }

  keepalivedLog(n: HaNode): string {
    const p = this.runtime[n].keepalived;
    return p ? `${p.stdout()}\n${p.stderr()}` : '';
  }

  /**
   * The node dies as far as the network can tell: every bridge port towards it goes down (its LAN and WAN
   * devices lose carrier) and its end of the sync link goes down. Its processes keep running.
   */
  async cut(n: HaNode): Promise<void> {
    await this.setLinks(n, 'down');
  }

  /** The node's cables are back. */
  async restore(n: HaNode): Promise<void> {
    await this.setLinks(n, 'up');
  }

  /** Invalid TCP packets the node's nft-mwan-ha.nft dropped (input and forward). */
  async invalidDropped(n: HaNode): Promise<number> {
    const r = await this.lab.exec(n, 'nft', ['list', 'table', 'inet', 'nft_mwan_ha']);
    return [...r.stdout.matchAll(/counter packets (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  }

  /**
   * ISP k's router dies: it neither answers nor routes (its own input and everything to or from its upstream are
   * dropped). The segment's switch (the bridge) stays, so the gateways keep their carrier and hear each other's adverts.
   */
  async ispDown(k: HaWan): Promise<void> {
    await this.lab.nft(
      `isp${k}`,
      `table inet ispdown {
  chain input { type filter hook input priority -10; policy accept; iifname "cust" drop; }
  chain forward { type filter hook forward priority -10; policy accept; iifname "uplink" drop; oifname "uplink" drop; }
}
`,
    );
  }

  /** ISP k's router is back. */
  async ispUp(k: HaWan): Promise<void> {
    await this.lab.exec(`isp${k}`, 'nft', ['delete', 'table', 'inet', 'ispdown']);
  }

  /** Packets ISP k dropped because their source was not the VRRP address. */
  async ispSpoofed(k: HaWan): Promise<number> {
    const r = await this.lab.exec(`isp${k}`, 'nft', ['-j', 'list', 'counter', 'inet', 'ispfilter', 'spoofed']);
    const m = /"packets":\s*(\d+)/.exec(r.stdout);
    if (!m) throw new Error(`isp${k}: no spoofed counter in ${r.stdout}`);
    return Number(m[1]);
  }

  private async setLinks(n: HaNode, state: 'up' | 'down'): Promise<void> {
    const port = HA_NET.port[n];
    await Promise.all([
      this.lab.ip('lan', ['link', 'set', 'dev', port, state]),
      ...HA_WANS.map((k) => this.lab.ip(`isp${k}`, ['link', 'set', 'dev', port, state])),
      this.lab.ip(n, ['link', 'set', 'dev', HA_NET.sync.dev, state]),
    ]);
  }
}

/** SIGKILL to the pid in `file` if that process is still `name` (a reused pid is left alone). */
function killFromPidFile(file: string, name: string): void {
  let pid: number;
  try {
    pid = Number(readFileSync(file, 'utf8').trim());
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 1) return;
  try {
    if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== name) return;
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

const GATEWAY_SYSCTLS = {
  'net.ipv4.ip_forward': 1,
  'net.ipv4.conf.all.rp_filter': 0,
  'net.ipv4.conf.default.rp_filter': 0,
  // A mid-stream TCP packet that reaches the new master before its conntrackd committed the synced
  // entry must not start a fresh entry (classified anew, NATed anew): it is invalid instead, and its
  // retransmission finds the committed entry.
  'net.netfilter.nf_conntrack_tcp_loose': 0,
};

/**
 *   lan 192.168.50.10 on br0 --ga-- lan0 gw1 wanK --ga-- cust (bridge) ispK uplink --- upK srv 192.0.2.10
 *                            --gb-- lan0 gw2 wanK --gb--
 *                                        gw1 sync0 ---- sync0 gw2
 *
 * Gateways forward with no NAT and no policy routing (nft-mwan's job), drop invalid TCP (contrib/ha/nft-mwan-ha.nft), and start no HA daemon
 * (startHa does). Every address is in HA_NET.
 */
export async function buildHa(lab: Lab, options: HaOptions): Promise<HaLab> {
  const { lan, wan, sync, server, port } = HA_NET;
  for (const ns of ['lan', 'gw1', 'gw2', 'srv', 'isp1', 'isp2', 'isp3']) await lab.addNamespace(ns);
  await Promise.all([
    ...HA_NODES.map((n) => lab.sysctl(n, GATEWAY_SYSCTLS)),
    ...HA_WANS.map((k) => lab.sysctl(`isp${k}`, { 'net.ipv4.ip_forward': 1, 'net.ipv4.conf.all.rp_filter': 0, 'net.ipv4.conf.default.rp_filter': 0 })),
    ...['lan', 'srv'].map((ns) => lab.sysctl(ns, { 'net.ipv4.conf.all.rp_filter': 0, 'net.ipv4.conf.default.rp_filter': 0 })),
  ]);

  // Bridges: the LAN's in the LAN host's namespace, each WAN's in its ISP's.
  const bridge = async (ns: string, name: string, addr: string) => {
    await lab.ip(ns, ['link', 'add', 'name', name, 'type', 'bridge']);
    await lab.ip(ns, ['addr', 'add', addr, 'dev', name]);
    await lab.ip(ns, ['link', 'set', 'dev', name, 'up']);
  };
  const plug = async (ns: string, name: string, n: HaNode, dev: string, addr: string) => {
    await lab.addVeth({ ns, dev: port[n] }, { ns: n, dev });
    await lab.ip(ns, ['link', 'set', 'dev', port[n], 'master', name, 'up']);
    await lab.ip(n, ['addr', 'add', addr, 'dev', dev]);
    await lab.ip(n, ['link', 'set', 'dev', dev, 'up']);
  };

  await bridge('lan', lan.bridge, `${lan.addr}/${lan.len}`);
  for (const n of HA_NODES) await plug('lan', lan.bridge, n, lan.dev, `${lan.node[n]}/${lan.len}`);
  await lab.ip('lan', ['route', 'add', 'default', 'via', lan.vip]);

  await lab.ip(server.ns, ['addr', 'add', `${server.addr}/32`, 'dev', 'lo']);
  for (const k of HA_WANS) {
    const w = wan[k];
    await bridge(w.ns, 'cust', `${w.gateway}/${w.len}`);
    for (const n of HA_NODES) await plug(w.ns, 'cust', n, w.dev, `${w.node[n]}/${w.len}`);
    const up = w.upstream;
    await lab.addVeth({ ns: w.ns, dev: up.ispDev }, { ns: server.ns, dev: up.srvDev });
    await lab.ip(w.ns, ['addr', 'add', `${up.isp}/${up.len}`, 'dev', up.ispDev]);
    await lab.ip(w.ns, ['link', 'set', 'dev', up.ispDev, 'up']);
    await lab.ip(server.ns, ['addr', 'add', `${up.srv}/${up.len}`, 'dev', up.srvDev]);
    await lab.ip(server.ns, ['link', 'set', 'dev', up.srvDev, 'up']);
    await lab.ip(w.ns, ['route', 'add', `${server.addr}/32`, 'via', up.srv, 'dev', up.ispDev]);
    await lab.ip(server.ns, ['route', 'add', w.prefix, 'via', up.isp, 'dev', up.srvDev]);
    await lab.nft(w.ns, ispFilter(k));
  }

  await lab.addVeth({ ns: 'gw1', dev: sync.dev }, { ns: 'gw2', dev: sync.dev });
  for (const n of HA_NODES) {
    await lab.ip(n, ['addr', 'add', `${sync.node[n]}/${sync.len}`, 'dev', sync.dev]);
    await lab.ip(n, ['link', 'set', 'dev', sync.dev, 'up']);
    const devices = [lan.dev, sync.dev, ...HA_WANS.map((k) => wan[k].dev)];
    await lab.sysctl(n, Object.fromEntries(devices.map((d) => [`net.ipv4.conf.${d}.rp_filter`, 0])));
    await lab.nft(n, readFileSync(HA_NFT_FILE, 'utf8'));
    // One main-table default route per WAN, as netifd installs them.
    for (const k of HA_WANS) await lab.ip(n, ['route', 'add', 'default', 'via', wan[k].gateway, 'dev', wan[k].dev, 'metric', String(10 * k)]);
  }

  const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-ha-'));
  lab.defer(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  return new HaLab(lab, dir, options);
}

/** Writes the HA configs, starts conntrackd on both nodes, then keepalived, and waits until gw1 is master. */
export async function startHa(ha: HaLab, { timeoutMs = 15_000 }: { timeoutMs?: number } = {}): Promise<void> {
  await ha.writeConfigs();
  for (const n of HA_NODES) await ha.startConntrackd(n);
  for (const n of HA_NODES) ha.startKeepalived(n);
  await ha.waitMaster('gw1', timeoutMs);
  await ha.lab.waitFor(() => ha.haState('gw2')?.state === 'backup', { timeoutMs, intervalMs: 50, what: 'gw2 backup' });
}

/**
 * A connection prober for the LAN host: every `intervalMs` a new TCP connection to host:port, each
 * printed as {"t0","t","ok","peer"} (start and end in ms since the epoch; peer: the client address the
 * server saw). Inline so it needs no file beside the lab's agents.
 */
const PROBER = `
const net = require('node:net');
const [host, port, intervalMs, timeoutMs] = process.argv.slice(1);
setInterval(() => {
  const t0 = Date.now();
  const s = net.connect({ host, port: Number(port) });
  let done = false;
  const fin = (ok, peer) => {
    if (done) return;
    done = true;
    s.destroy();
    process.stdout.write(JSON.stringify({ t0, t: Date.now(), ok, peer }) + '\\n');
  };
  s.setTimeout(Number(timeoutMs), () => fin(false));
  s.once('data', (d) => fin(true, String(d).split(' ')[1]));
  s.on('error', () => fin(false));
}, Number(intervalMs));
process.on('SIGTERM', () => process.exit(0));
`;

export interface ProbeResult {
  t0: number;
  t: number;
  ok: boolean;
  peer?: string;
}

export function startProber(lab: Lab, ns: string, target: { host: string; port: number }, { intervalMs = 50, timeoutMs = 500 } = {}) {
  const proc = lab.spawn(ns, process.execPath, ['-e', PROBER, target.host, String(target.port), String(intervalMs), String(timeoutMs)]);
  const results = (): ProbeResult[] =>
    proc.lines().flatMap((l) => {
      try {
        return [JSON.parse(l) as ProbeResult];
      } catch {
        return [];
      }
    });
  return { proc, results };
}

/**
 * Outage seen by new connections around an event at `at` (ms since the epoch): the first attempt
 * started at or after `at` that succeeded, how long after `at` it completed, and the attempts that failed.
 */
export function recovery(results: readonly ProbeResult[], at: number): { recoveredMs: number | null; failed: number; after: ProbeResult[] } {
  const after = results.filter((r) => r.t0 >= at);
  const firstOk = after.find((r) => r.ok);
  return { recoveredMs: firstOk ? firstOk.t - at : null, failed: after.filter((r) => !r.ok).length, after };
}
