// `nft-mwan explain --src A --dst B [--proto P] [--sport N] [--dport N]`: where a NEW connection would go, and why.
import { configOrThrow, loadConfig } from '../config/load.js';
import { describeCandidates, explain, stickyState, type Flow } from '../compile/explain.js';
import { diffPlan } from '../compile/verify.js';
import { plan } from '../engine/apply.js';
import { MwanError } from '../model/errors.js';
import { parseIp } from '../model/net.js';
import { bypassTexts } from '../compile/compile.js';
import { setElements } from './elements.js';
import { liveStates } from './live.js';
import type { CommandContext } from './context.js';

export default async function explainCommand(ctx: CommandContext): Promise<number> {
  const config = configOrThrow(await loadConfig(ctx.configPath));
  const flow = parseFlow(ctx.values);
  // The daemon's states when it runs: the explanation is for the plan actually installed.
  const { states, daemon } = await liveStates(ctx);
  const { plan: p, discovery } = await plan(ctx.run, config, states);
  // The router's addresses and the bypass list as discovery found them: what compile put in the bypass sets.
  const local = [...(discovery.facts.local ?? []), ...(discovery.facts.local6 ?? [])];
  // Named sets as installed (run-time elements included), else as configured.
  const sets: Record<string, string[]> = {};
  for (const [name, set] of Object.entries(config.sets)) sets[name] = setElements(discovery.listing, name) ?? set.elements;
  const bypass = bypassTexts(config, discovery.facts);
  // Sticky entries as installed: the same listing (one `nft -j list table`) the plan was compared with.
  const sticky = stickyState(discovery.listing, p.stickySets);
  const e = explain(config, p, flow, { bypass, local, sets, sticky });
  const installed = discovery.listing !== null;
  const inSync = installed && diffPlan(p, discovery.listing ?? []).length === 0;
  // Enabled WANs the moment keeps down (device gone, not up yet): in no policy, so never a candidate.
  const down = Object.fromEntries(p.interfaces.filter((i) => i.enabled && !i.linkUp).map((i) => [i.name, i.waiting ?? 'its device is down']));
  if (ctx.json) {
    ctx.out(JSON.stringify({ ...e, down, protoAssumed: ctx.values.proto === undefined, installed, inSync, daemon: daemon !== null }, null, 2));
    return 0;
  }
  const lines = [
    `${flow.proto} ${flow.src}${flow.sport !== undefined ? `:${flow.sport}` : ''} -> ${flow.dst}${flow.dport !== undefined ? `:${flow.dport}` : ''}`,
    `  ${e.reason}`,
  ];
  if (ctx.values.proto === undefined) lines.push(`  (no --proto given: tcp assumed; --proto udp|icmp|icmpv6|N for another)`);
  if (e.verdict === 'rule') lines.push(`  goes to: ${describeCandidates(e)}`, `  ${e.sticky}`);
  for (const [name, why] of Object.entries(down)) lines.push(`  ${name} is down: ${why}`);
  lines.push(`  WAN states: ${daemon ? 'from the running daemon' : 'no daemon running, every enabled interface counts as online'}`);
  // A WAN with a state per family (track6): both, since this flow's family decides which one counts.
  for (const i of p.interfaces) {
    if (i.online6 !== undefined) lines.push(`  ${i.name}: IPv4 ${i.online ? 'online' : 'offline'}, IPv6 ${i.online6 ? 'online' : 'offline'} (tracked apart)`);
  }
  if (!installed) lines.push(`  NOTE: table inet ${p.table.name} is not installed: this is what apply would do`);
  else if (!inSync) lines.push(`  NOTE: the installed table differs from ${ctx.configPath}: run status to see how; this explains the config`);
  ctx.out(lines.join('\n'));
  return 0;
}

function parseFlow(v: CommandContext['values']): Flow {
  const need = (name: string) => {
    const value = v[name];
    if (typeof value !== 'string') throw new MwanError({ code: 'USAGE', summary: `explain needs --${name}` });
    return value;
  };
  const port = (name: string) => {
    const value = v[name];
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new MwanError({ code: 'USAGE', summary: `--${name} ${String(value)} is not a port` });
    return n;
  };
  const protoText = (v.proto as string | undefined) ?? 'tcp';
  const proto = /^\d+$/.test(protoText) ? Number(protoText) : protoText;
  if (typeof proto === 'string' && !['tcp', 'udp', 'icmp', 'icmpv6'].includes(proto)) {
    throw new MwanError({ code: 'USAGE', summary: `--proto ${proto}: use tcp, udp, icmp, icmpv6 or a protocol number` });
  }
  const flow: Flow = { src: need('src'), dst: need('dst'), proto: proto as Flow['proto'] };
  if (typeof v.iif === 'string') flow.iif = v.iif;
  const sport = port('sport');
  const dport = port('dport');
  if (sport !== undefined) flow.sport = sport;
  if (dport !== undefined) flow.dport = dport;
  for (const [name, a] of [
    ['src', flow.src],
    ['dst', flow.dst],
  ] as const) {
    if (parseIp(a) === undefined) throw new MwanError({ code: 'USAGE', summary: `--${name} ${a} is not an IPv4 or IPv6 address` });
  }
  if (parseIp(flow.src)?.family !== parseIp(flow.dst)?.family) throw new MwanError({ code: 'USAGE', summary: '--src and --dst must be of one family' });
  return flow;
}
