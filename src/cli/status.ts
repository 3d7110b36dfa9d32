// `nft-mwan status`: what is installed, as a table for people or JSON for programs.
import { configOrThrow, loadConfig } from '../config/load.js';
import { hex } from '../model/marks.js';
import { readStatus, type Status } from '../engine/status.js';
import type { CommandContext } from './context.js';
import type { DaemonState } from '../model/state.js';
import { MwanError } from '../model/errors.js';
import { familyRecords, liveStates } from './live.js';
import { stateDir } from './state-dir.js';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { CONTROL_SOCKET } from '../daemon/state-file.js';

/** Whether something listens on the daemon's control socket (connected, then closed without a request). */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection(path);
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1_000, () => {
      done(false);
    });
    sock.once('connect', () => {
      done(true);
    });
    sock.once('error', () => {
      done(false);
    });
  });
}

export default async function status(ctx: CommandContext): Promise<number> {
  const watch = ctx.values.watch === undefined ? null : Number(ctx.values.watch);
  if (watch !== null && !(watch >= 0.2 && watch <= 3600)) {
    throw new MwanError({ code: 'USAGE', summary: `--watch ${String(ctx.values.watch)}: seconds between 0.2 and 3600` });
  }
  const once = async () => {
    const config = configOrThrow(await loadConfig(ctx.configPath));
    // With a daemon running, "in sync" means: what it decided is what is installed.
    const { states, daemon: live, file } = await liveStates(ctx);
    const s = await readStatus(ctx.run, config, states);
    const dir = stateDir(ctx);
    // No live state file (a full filesystem, a corrupt file): a daemon answering on its socket still runs.
    const answers = live === null && (await socketAnswers(join(dir, CONTROL_SOCKET)));
    const daemon = live ?? (file && !answers ? { ...file, running: false } : null);
    if (ctx.json) return JSON.stringify({ ...s, daemon, ...(answers ? { daemonAnswers: true } : {}) });
    return render(s, ctx.configPath, daemon, dir, paint(process.stdout.isTTY), answers);
  };
  if (watch === null) {
    ctx.out(ctx.json ? JSON.stringify(JSON.parse(await once()), null, 2) : await once());
    return 0;
  }
  // Until interrupted: a terminal gets the screen redrawn, anything else one frame (JSON: one line) after another.
  let stop = false;
  process.once('SIGINT', () => (stop = true));
  process.once('SIGTERM', () => (stop = true));
  // The signal handlers above set `stop`; TypeScript's narrowing does not see that.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
  while (!stop) {
    const frame = await once();
    ctx.out(process.stdout.isTTY && !ctx.json ? `\x1b[H\x1b[2J${new Date().toLocaleTimeString()}  (every ${watch} s, Ctrl-C to end)\n${frame}` : frame);
    await new Promise((r) => setTimeout(r, watch * 1000));
  }
  return 0;
}

type Paint = (text: string, state: string) => string;

/** Colour only on a terminal, and never with NO_COLOR set. */
function paint(tty: boolean): Paint {
  if (!tty || process.env.NO_COLOR) return (t) => t;
  const codes: Record<string, string> = { online: '32', offline: '33', down: '31', disabled: '90' };
  return (t, state) => (codes[state] ? `\x1b[${codes[state]}m${t}\x1b[0m` : t);
}

function bytes(n: number | null): string {
  if (n === null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)}${units[u] ?? ''}`; // u < units.length: the fallback never applies
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((cell, c) => cell.padEnd(widths[c] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

const ago = (iso: string, now = Date.now()) => {
  const secs = Math.max(0, (now - Date.parse(iso)) / 1000);
  return secs < 120 ? `${secs.toFixed(1)}s` : secs < 7200 ? `${(secs / 60).toFixed(0)}m` : `${(secs / 3600).toFixed(1)}h`;
};

function renderDaemon(d: DaemonState | null, dir: string, installed: boolean): string[] {
  if (d === null) return ['', `daemon: not running (no state in ${dir}); every enabled interface is assumed online`];
  if (!d.running) {
    return [
      '',
      installed
        ? `daemon: not running (last state ${d.updatedAt}); the rules installed stay as it left them`
        : `daemon: not running (last state ${d.updatedAt}, in ${dir}); nothing of it is installed now`,
    ];
  }
  const lines = [
    '',
    `daemon: running (pid ${d.pid}, since ${d.startedAt})${d.lastApply && !d.lastApply.ok ? `, LAST APPLY FAILED: ${d.lastApply.error ?? 'null'}` : ''}`,
  ];
  lines.push(
    ...table([
      ['NAME', 'STATE', 'FOR', 'LINK', 'RTT', 'LOSS', 'LAST PROBES'],
      // A WAN tracked per family (track6): one row per family.
      ...Object.entries(d.interfaces)
        .flatMap(([name, r]) => familyRecords(name, r))
        .map(([name, i]) => {
          const probes = i.lastRound?.results.map((r) => `${r.target} ${r.ok ? `${r.rttMs?.toFixed(1) ?? 'undefined'}ms` : (r.error ?? 'failed')}`) ?? [];
          return [
            name,
            `${i.state}${i.forcedDown ? ' (ifdown)' : ''}${i.state === 'online' && i.fails > 0 ? ` (${i.fails} failed)` : ''}` +
              (i.state === 'offline' && i.goods > 0 ? ` (${i.goods} good)` : ''),
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

export function render(s: Status, configPath: string, daemon: DaemonState | null = null, dir = '', colour: Paint = (t) => t, answers = false): string {
  const lines: string[] = [];
  if (!s.installed) lines.push(`table inet ${s.table}: not installed (run nft-mwan apply)`);
  else if (s.inSync) lines.push(`table inet ${s.table}: installed, in sync with ${configPath}`);
  else lines.push(`table inet ${s.table}: installed, DIFFERS from ${configPath}:`, ...s.differences.slice(0, 10).map((d) => `  ${d}`));
  lines.push('', 'interfaces:');
  lines.push(
    ...table([
      ['NAME', 'DEVICE', 'ID', 'MARK', 'TABLE', 'GATEWAY', 'STATE', 'CONNS', 'SHARE', 'RX', 'TX'],
      ...s.interfaces.map((i) => {
        const t = s.traffic[i.name];
        const total = Object.values(s.traffic).reduce((sum, c) => sum + (c.connections ?? 0), 0);
        const conns = t?.connections ?? null;
        return [
          i.name,
          i.device,
          String(i.id),
          hex(i.mark),
          String(i.table),
          i.gateway ?? '(device)',
          i.state6 === undefined ? i.state : `${i.state} (IPv6 ${i.state6})`,
          conns === null ? '-' : String(conns),
          conns === null || total === 0 ? '-' : `${((100 * conns) / total).toFixed(1)}%`,
          bytes(t?.rxBytes ?? null),
          bytes(t?.txBytes ?? null),
        ];
      }),
    ]).map((l, row) => {
      const state = row === 0 ? '' : (s.interfaces[row - 1]?.state ?? '');
      return `  ${colour(l, state)}`;
    }),
  );
  for (const i of s.interfaces) if (i.waiting !== undefined) lines.push(`  ${i.name} is down: ${i.waiting}`);
  lines.push('', 'policies:');
  for (const p of s.policies) {
    lines.push(`  ${p.name} (last resort: ${p.lastResort}${p.usingLastResort ? ', IN USE: no member online' : ''})`);
    lines.push(
      ...table(p.members.map((m) => [m.interface, `metric ${m.metric}`, `weight ${m.weight}`, m.active ? `${(m.share * 100).toFixed(1)}%` : 'standby'])).map(
        (l) => `    ${l}`,
      ),
    );
  }
  // IPv6 policies differ from the IPv4 ones only when some WAN is tracked per family.
  if (s.interfaces.some((i) => i.state6 !== undefined)) {
    lines.push('', 'policies (IPv6):');
    for (const p of s.policies6) {
      const members = p.members.map((m) => `${m.interface} ${m.active ? `${(m.share * 100).toFixed(1)}%` : 'standby'}`);
      lines.push(`  ${p.name}: ${p.usingLastResort ? `last resort ${p.lastResort} IN USE (no member online for IPv6)` : members.join(', ')}`);
    }
  }
  lines.push(
    ...(answers
      ? ['', `daemon: running (it answers on ${join(dir, CONTROL_SOCKET)}), but its state file cannot be read; every enabled interface is assumed online`]
      : renderDaemon(daemon, dir, s.installed)),
  );
  lines.push(
    '',
    `routing: ${s.routing.rules} ip rules (priorities ${s.routing.priorities.join(', ') || '-'}), ` +
      `${s.routing.routes} routes (tables ${s.routing.tables.join(', ') || '-'})`,
  );
  return lines.join('\n');
}
