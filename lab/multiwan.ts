// Builds the multi-WAN test topology: LAN hosts, the gateway, one namespace per ISP, a server behind them all.
import type { Lab } from './ns.js';

/** Addresses are documentation or private ranges, assigned only inside the lab's namespaces. */
export const ADDR = {
  lan: { host: '192.168.10.2', gw: '192.168.10.1', net: '192.168.10.0/24' },
  lan2: { host: '192.168.20.2', gw: '192.168.20.1', net: '192.168.20.0/24' },
  /** wan k: the gateway's address, its ISP's address, the ISP's customer block. */
  wan: (k: number) => ({
    device: `wan${k}`,
    gw: `198.51.100.${8 * (k - 1) + 2}`,
    isp: `198.51.100.${8 * (k - 1) + 1}`,
    block: `198.51.100.${8 * (k - 1)}/29`,
    upIsp: `10.255.${k}.1`,
    upSrv: `10.255.${k}.2`,
  }),
  server: ['192.0.2.10', '192.0.2.20'] as const,
};

export interface MultiWan {
  wans: number;
  gw: string;
  lan: string;
  lan2: string;
  srv: string;
  isp: (k: number) => string;
  /** Packets an ISP dropped because their source was not the gateway's address. */
  spoofDrops(k: number): Promise<number>;
  /** Cut or restore an ISP's upstream: 'drop' silently drops everything it would forward. */
  setUpstream(k: number, mode: 'up' | 'drop'): Promise<void>;
}

export async function buildMultiWan(lab: Lab, o: { wans?: number } = {}): Promise<MultiWan> {
  const wans = o.wans ?? 2;
  const gw = await lab.addNamespace('gw');
  const lan = await lab.addNamespace('lan');
  const lan2 = await lab.addNamespace('lan2');
  const srv = await lab.addNamespace('srv');
  const isps: string[] = [];
  for (let k = 1; k <= wans; k++) isps.push(await lab.addNamespace(`isp${k}`));
  const isp = (k: number) => isps[k - 1] as string;

  const link = async (a: string, devA: string, b: string, devB: string) => {
    // Created inside namespace a with the peer moved straight into b: no end ever touches the host.
    await lab.sh(a, 'ip', ['link', 'add', devA, 'type', 'veth', 'peer', 'name', devB, 'netns', b]);
    await lab.sh(a, 'ip', ['link', 'set', devA, 'up']);
    await lab.sh(b, 'ip', ['link', 'set', devB, 'up']);
  };
  const addr = (ns: string, dev: string, cidr: string) => lab.sh(ns, 'ip', ['addr', 'add', cidr, 'dev', dev]);
  const sysctl = (ns: string, ...kv: string[]) => lab.sh(ns, 'sysctl', ['-q', '-w', ...kv]);
  const noRpFilter = ['net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0'];

  await link(gw, 'lan0', lan, 'eth0');
  await link(gw, 'lan1', lan2, 'eth0');
  await addr(gw, 'lan0', `${ADDR.lan.gw}/24`);
  await addr(gw, 'lan1', `${ADDR.lan2.gw}/24`);
  await addr(lan, 'eth0', `${ADDR.lan.host}/24`);
  await addr(lan2, 'eth0', `${ADDR.lan2.host}/24`);
  await lab.sh(lan, 'ip', ['route', 'add', 'default', 'via', ADDR.lan.gw]);
  await lab.sh(lan2, 'ip', ['route', 'add', 'default', 'via', ADDR.lan2.gw]);
  await sysctl(gw, 'net.ipv4.ip_forward=1', ...noRpFilter);
  await sysctl(srv, ...noRpFilter);
  for (const a of ADDR.server) await addr(srv, 'lo', `${a}/32`);

  for (let k = 1; k <= wans; k++) {
    const w = ADDR.wan(k);
    await link(gw, w.device, isp(k), 'cust');
    await link(isp(k), 'upl', srv, `up${k}`);
    await addr(gw, w.device, `${w.gw}/29`);
    await addr(isp(k), 'cust', `${w.isp}/29`);
    await addr(isp(k), 'upl', `${w.upIsp}/30`);
    await addr(srv, `up${k}`, `${w.upSrv}/30`);
    await sysctl(isp(k), 'net.ipv4.ip_forward=1', ...noRpFilter);
    await lab.sh(isp(k), 'ip', ['route', 'add', '192.0.2.0/24', 'via', w.upSrv]);
    // The server answers each ISP's customers through that ISP; it has no default route.
    await lab.sh(srv, 'ip', ['route', 'add', w.block, 'via', w.upIsp]);
    // Like netifd: a default route per WAN, lower metric preferred, so "gateway": "auto" finds them.
    await lab.sh(gw, 'ip', ['route', 'add', 'default', 'via', w.isp, 'dev', w.device, 'metric', String(10 * k)]);
    // Real ISPs drop customer packets whose source is not the address they assigned.
    await lab.sh(isp(k), 'nft', ['-f', '-'], {
      input: `table inet isp {
  counter spoofed { }
  chain upstream { }
  chain customer_forward { type filter hook forward priority 0; policy accept;
    iifname "cust" ip saddr != ${w.gw} counter name "spoofed" drop
    iifname "cust" jump upstream
  }
}\n`,
    });
  }

  return {
    wans,
    gw,
    lan,
    lan2,
    srv,
    isp,
    async spoofDrops(k) {
      const out = await lab.sh(isp(k), 'nft', ['-j', 'list', 'counter', 'inet', 'isp', 'spoofed']);
      const c = (JSON.parse(out) as { nftables: { counter?: { packets: number } }[] }).nftables.find((i) => i.counter)?.counter;
      return c?.packets ?? 0;
    },
    async setUpstream(k, mode) {
      await lab.sh(isp(k), 'nft', ['flush', 'chain', 'inet', 'isp', 'upstream']);
      if (mode === 'drop') await lab.sh(isp(k), 'nft', ['add', 'rule', 'inet', 'isp', 'upstream', 'drop']);
    },
  };
}
