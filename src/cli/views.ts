// mwan3's views, for people who know them: `interfaces`, `policies`, `connected`, `rules`.
import { configOrThrow, loadConfig } from '../config/load.js';
import { BYPASS_SET, BYPASS_SET6 } from '../model/names.js';
import type { PlannedPolicy } from '../model/plan.js';
import { plan } from '../engine/apply.js';
import { setElements } from './elements.js';
import { familyRecords, liveStates } from './live.js';
import type { CommandContext } from './context.js';

/** mwan3's duration format: 00h:14m:32s. */
function hms(fromIso: string): string {
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(fromIso)) / 1000));
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(Math.floor(s / 3600))}h:${pad(Math.floor((s % 3600) / 60))}m:${pad(s % 60)}s`;
}

async function load(ctx: CommandContext) {
  const config = configOrThrow(await loadConfig(ctx.configPath));
  const live = await liveStates(ctx);
  const { plan: p, discovery } = await plan(ctx.run, config, live.states);
  return { config, live, p, discovery };
}

export async function interfacesView(ctx: CommandContext): Promise<number> {
  const { p, live } = await load(ctx);
  const lines = ['Interface status:'];
  for (const i of p.interfaces) {
    const d = live.daemon?.interfaces[i.name];
    if (!i.enabled) {
      lines.push(` interface ${i.name} is disabled`);
      continue;
    }
    if (!d) {
      lines.push(` interface ${i.name} is ${i.online ? 'online' : 'offline'} (no daemon running: not tracked)`);
      continue;
    }
    // A WAN tracked per family (track6): a line per family, as mwan3 gives wan and wan6 one each.
    for (const [label, r] of familyRecords(i.name, d)) {
      const tracking = !r.tracking ? 'not enabled' : r.forcedDown ? 'paused (ifdown)' : r.carrier ? 'active' : 'down';
      lines.push(
        ` interface ${label} is ${r.state}${r.state === 'online' ? ` ${hms(r.since)}` : ''}, ` +
          `${r.state === 'online' ? 'uptime' : 'down for'} ${hms(r.since)} and tracking is ${tracking}`,
      );
    }
  }
  ctx.out(lines.join('\n'));
  return 0;
}

function policyLines(title: string, policies: readonly PlannedPolicy[]): string[] {
  const lines = [title];
  for (const pol of policies) {
    lines.push(`${pol.name}:`);
    const active = pol.members.filter((m) => m.active);
    if (active.length === 0) lines.push(` ${pol.lastResort} (no member online)`);
    for (const m of active) lines.push(` ${m.interface} (${Math.round(m.share * 100)}%)`);
  }
  return lines;
}

export async function policiesView(ctx: CommandContext): Promise<number> {
  const { p } = await load(ctx);
  const lines = policyLines('Current ipv4 policies:', p.policies);
  if (p.policies6.length > 0) lines.push('', ...policyLines('Current ipv6 policies:', p.policies6));
  ctx.out(lines.join('\n'));
  return 0;
}

export async function connectedView(ctx: CommandContext): Promise<number> {
  const { discovery } = await load(ctx);
  const elements = (name: string) => setElements(discovery.listing, name) ?? [];
  const lines = ['Directly connected ipv4 networks:', ...elements(BYPASS_SET)];
  const v6 = elements(BYPASS_SET6);
  if (v6.length > 0) lines.push('', 'Directly connected ipv6 networks:', ...v6);
  if (discovery.listing === null) lines.push('(nft-mwan is not installed: run nft-mwan apply)');
  ctx.out(lines.join('\n'));
  return 0;
}

/** The config's rules: a static view, read from the config alone (no root, no kernel). */
export async function rulesView(ctx: CommandContext): Promise<number> {
  const config = configOrThrow(await loadConfig(ctx.configPath));
  const lines = ['Active user rules (first match wins):'];
  for (const r of config.rules) {
    const scope = [r.family !== 'any' ? r.family : null, r.proto && r.proto !== 'all' ? String(r.proto) : null].filter((x) => x !== null);
    const what = [
      r.srcIface ? `in ${r.srcIface.join(',')}` : null,
      r.srcIp ? `from ${r.srcIp.join(',')}` : null,
      r.srcPort ? `sport ${r.srcPort.join(',')}` : null,
      r.destIp ? `to ${r.destIp.join(',')}` : null,
      r.destPort ? `dport ${r.destPort.join(',')}` : null,
      r.set ? `to @${r.set}` : null,
    ].filter((x) => x !== null);
    lines.push(
      ` ${r.name}: ${[...scope, what.length ? what.join(' ') : 'everything'].join(' ')} -> ${r.policy}` +
        `${r.sticky ? ` (sticky ${r.stickyTimeout}s)` : ''}${r.log ? ' (logged)' : ''}`,
    );
  }
  ctx.out(lines.join('\n'));
  return 0;
}
