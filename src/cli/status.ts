// `nft-mwan status`: what is installed, as a table for people or JSON for programs.
import { configOrThrow, loadConfig } from '../config/load.js';
import { hex } from '../compile/marks.js';
import { readStatus, type Status } from '../engine/status.js';
import type { CommandContext } from './main.js';

export default async function status(ctx: CommandContext): Promise<number> {
  const config = configOrThrow(await loadConfig(ctx.configPath));
  const s = await readStatus(ctx.run, config);
  ctx.out(ctx.json ? JSON.stringify(s, null, 2) : render(s, ctx.configPath));
  return 0;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ').trimEnd());
}

export function render(s: Status, configPath: string): string {
  const lines: string[] = [];
  if (!s.installed) lines.push(`table inet ${s.table}: not installed (run nft-mwan apply)`);
  else if (s.inSync) lines.push(`table inet ${s.table}: installed, in sync with ${configPath}`);
  else lines.push(`table inet ${s.table}: installed, DIFFERS from ${configPath}:`, ...s.differences.slice(0, 10).map((d) => `  ${d}`));
  lines.push('', 'interfaces:');
  lines.push(
    ...table([
      ['NAME', 'DEVICE', 'ID', 'MARK', 'TABLE', 'GATEWAY', 'STATE'],
      ...s.interfaces.map((i) => [i.name, i.device, String(i.id), hex(i.mark), String(i.table), i.gateway ?? '(device)', i.state]),
    ]).map((l) => `  ${l}`),
  );
  lines.push('', 'policies:');
  for (const p of s.policies) {
    lines.push(`  ${p.name} (last resort: ${p.lastResort}${p.usingLastResort ? ', IN USE: no member online' : ''})`);
    lines.push(
      ...table(
        p.members.map((m) => [m.interface, `metric ${m.metric}`, `weight ${m.weight}`, m.active ? `${(m.share * 100).toFixed(1)}%` : 'standby']),
      ).map((l) => `    ${l}`),
    );
  }
  lines.push('', `routing: ${s.routing.rules} ip rules (priorities ${s.routing.priorities.join(', ') || '-'}), ${s.routing.routes} routes (tables ${s.routing.tables.join(', ') || '-'})`);
  return lines.join('\n');
}
