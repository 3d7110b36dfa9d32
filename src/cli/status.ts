// `nft-mwan status`: what is installed, as a table for people or JSON for programs.
import { configOrThrow, loadConfig } from '../config/load.js';
import { hex } from '../compile/marks.js';
import { readStatus, type Status } from '../engine/status.js';
import type { CommandContext } from './main.js';
import { processAlive, readState, type DaemonState } from '../daemon/state-file.js';
import type { LinkStates } from '../compile/compile.js';
import { stateDir } from './state-dir.js';

export default async function status(ctx: CommandContext): Promise<number> {
  const config = configOrThrow(await loadConfig(ctx.configPath));
  const dir = stateDir(ctx);
  const file = await readState(dir);
  const live = file !== null && file.running && processAlive(file.pid) ? file : null;
  // With a daemon running, "in sync" means: what it decided is what is installed.
  const states: LinkStates = live ? Object.fromEntries(Object.entries(live.interfaces).map(([n, i]) => [n, i.state])) : {};
  const s = await readStatus(ctx.run, config, states);
  const daemon = live ?? (file ? { ...file, running: false } : null);
  ctx.out(ctx.json ? JSON.stringify({ ...s, daemon }, null, 2) : render(s, ctx.configPath, daemon, dir));
  return 0;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ').trimEnd());
}

const ago = (iso: string, now = Date.now()) => {
  const secs = Math.max(0, (now - Date.parse(iso)) / 1000);
  return secs < 120 ? `${secs.toFixed(1)}s` : secs < 7200 ? `${(secs / 60).toFixed(0)}m` : `${(secs / 3600).toFixed(1)}h`;
};

function renderDaemon(d: DaemonState | null, dir: string): string[] {
  if (d === null) return ['', `daemon: not running (no state in ${dir}); every enabled interface is assumed online`];
  if (!d.running) return ['', `daemon: not running (last state ${d.updatedAt}); the rules installed stay as it left them`];
  const lines = ['', `daemon: running (pid ${d.pid}, since ${d.startedAt})${d.lastApply && !d.lastApply.ok ? `, LAST APPLY FAILED: ${d.lastApply.error}` : ''}`];
  lines.push(
    ...table([
      ['NAME', 'STATE', 'FOR', 'LINK', 'RTT', 'LOSS', 'LAST PROBES'],
      ...Object.entries(d.interfaces).map(([name, i]) => {
        const probes = i.lastRound?.results.map((r) => `${r.target} ${r.ok ? `${r.rttMs?.toFixed(1)}ms` : (r.error ?? 'failed')}`) ?? [];
        return [
          name,
          `${i.state}${i.forcedDown ? ' (ifdown)' : ''}${i.state === 'online' && i.fails > 0 ? ` (${i.fails} failed)` : ''}${i.state === 'offline' && i.goods > 0 ? ` (${i.goods} good)` : ''}`,
          ago(i.since),
          i.carrier ? 'up' : 'DOWN',
          i.rttMs === null ? '-' : `${i.rttMs.toFixed(1)}ms`,
          i.lossPct === null ? '-' : `${i.lossPct.toFixed(0)}%`,
          i.tracking ? probes.join(', ') || '(none yet)' : '(not tracked)',
        ];
      }),
    ]).map((l) => `  ${l}`),
  );
  return lines;
}

export function render(s: Status, configPath: string, daemon: DaemonState | null = null, dir = ''): string {
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
  lines.push(...renderDaemon(daemon, dir));
  lines.push('', `routing: ${s.routing.rules} ip rules (priorities ${s.routing.priorities.join(', ') || '-'}), ${s.routing.routes} routes (tables ${s.routing.tables.join(', ') || '-'})`);
  return lines.join('\n');
}
