// User hooks (mwan3.user's successor): run on every state change, in the background, each with a timeout.
import type { Stats } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ancestors, directoryReason } from '../config/trusted-path.js';
import { HOOK_OUTPUT_KEPT, runHookProcess, type HookRun } from './hook-process.js';
import type { LinkState } from '../model/facts.js';
import type { Reason } from '../model/tracking.js';

export interface HookEvent {
  /**
   * mwan3 names: ifup/ifdown (link or operator), connected/disconnected (probes), and the tracker's
   * in-between states: disconnecting (first failed round while online), connecting (first good round while offline).
   */
  action: 'ifup' | 'ifdown' | 'connected' | 'disconnected' | 'connecting' | 'disconnecting';
  interface: string;
  device: string;
  /**
   * ipv4 or ipv6: the family whose state changed (a WAN with track6 has one per family), or the WAN's only one;
   * "both" for a dual-stack WAN with one state for both.
   */
  family: 'ipv4' | 'ipv6' | 'both';
  state: string;
  reason: string;
}

export interface HookLog {
  info(m: string): void;
  warn(m: string): void;
}

/** The mwan3 action of a state change: probes say connected/disconnected; the link or the operator ifup/ifdown. */
export function hookAction(from: LinkState, to: LinkState, reason: Reason): HookEvent['action'] {
  if (reason === 'probes') return to === 'online' ? 'connected' : 'disconnected';
  if (to === 'down') return 'ifdown';
  // The link is back (down -> offline: carrier, probes not yet good), as mwan3's ifup on the hotplug event.
  if (from === 'down') return 'ifup';
  return to === 'online' ? 'ifup' : 'ifdown';
}

/** Hooks run as root: one anybody could have written (or replaced) would hand them the router. */
function unsafe(s: Stats): boolean {
  return (process.getuid?.() === 0 && s.uid !== 0) || (s.mode & 0o022) !== 0;
}

/**
 * Executables to run: the file itself, or a directory's regular executable files in name order. A directory
 * that others could write to (so add a hook to) runs nothing; a symlink runs only when its target and the
 * target's directory pass the same checks.
 */
export async function hookPrograms(path: string, log: HookLog): Promise<string[]> {
  let st;
  try {
    st = await stat(path);
  } catch {
    log.warn(`hooks: ${path} does not exist; no hook run`);
    return [];
  }
  if (st.isDirectory() && unsafe(st)) {
    log.warn(`hooks: not running the hooks in ${path}: the directory must be owned by root and not writable by group or others`);
    return [];
  }
  // As for configs (sshd's StrictModes): whoever can write a directory above the hooks can swap them.
  const where = await pathReason(path);
  if (where !== null) {
    log.warn(`hooks: not running ${path}: ${where}`);
    return [];
  }
  const candidates = st.isDirectory() ? (await readdir(path)).sort().map((n) => join(path, n)) : [path];
  const out: string[] = [];
  for (const file of candidates) {
    const l = await lstat(file).catch(() => undefined);
    if (l?.isSymbolicLink() && file !== path) {
      const target = await realpath(file).catch(() => null);
      const [t, d] = target === null ? [] : await Promise.all([stat(target).catch(() => undefined), stat(dirname(target)).catch(() => undefined)]);
      if (!t?.isFile() || (t.mode & 0o111) === 0) continue;
      // A root-owned sticky directory (like /tmp) lets nobody but the target's owner replace it.
      const dirUnsafe = !d || (process.getuid?.() === 0 && d.uid !== 0) || ((d.mode & 0o022) !== 0 && (d.mode & 0o1000) === 0);
      if (unsafe(t) || dirUnsafe) {
        log.warn(`hooks: skipping ${file}: it links to ${String(target)}, which (and its directory) must be owned by root and not writable by group or others`);
        continue;
      }
      const above = await pathReason(file);
      if (above !== null) {
        log.warn(`hooks: skipping ${file}: it links to ${String(target)}: ${above}`);
        continue;
      }
      out.push(file);
      continue;
    }
    const s = await stat(file).catch(() => undefined);
    if (!s?.isFile() || (s.mode & 0o111) === 0) continue;
    if (unsafe(s)) {
      log.warn(`hooks: skipping ${file}: it must be owned by root and not writable by group or others`);
      continue;
    }
    out.push(file);
  }
  return out;
}

/**
 * Why the directories above a hook file (or directory) cannot be trusted, as for configs (sshd's StrictModes): each
 * one up to / owned by root and not writable by group or others unless sticky. Null when trusted, or when not root.
 * The file itself is checked by the caller.
 */
async function pathReason(path: string): Promise<string | null> {
  if (process.getuid?.() !== 0) return null;
  try {
    for (const dir of ancestors(await realpath(path))) {
      const r = directoryReason(dir, await lstat(dir));
      if (r !== null) return r;
    }
    return null;
  } catch (e) {
    return `cannot check its path: ${(e as Error).message}`;
  }
}

export function hookEnv(e: HookEvent): Record<string, string> {
  return {
    ACTION: e.action,
    INTERFACE: e.interface,
    DEVICE: e.device,
    FAMILY: e.family,
    NFT_MWAN_ACTION: e.action,
    NFT_MWAN_INTERFACE: e.interface,
    NFT_MWAN_DEVICE: e.device,
    NFT_MWAN_FAMILY: e.family,
    NFT_MWAN_STATE: e.state,
    NFT_MWAN_REASON: e.reason,
    // Only these and PATH: a hook sees nothing else of the daemon's environment.
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  };
}

/**
 * mwan3's own way: /etc/mwan3.user is sourced by a shell with only ACTION, INTERFACE and DEVICE set
 * (it need not be executable); root-owned and not writable by others, like every hook.
 */
export async function runMwan3User(file: string, e: HookEvent, timeoutS: number, log: HookLog): Promise<void> {
  const st = await stat(file).catch(() => undefined);
  if (!st?.isFile()) {
    log.warn(`mwan3User: ${file} does not exist; not run`);
    return;
  }
  if (unsafe(st)) {
    log.warn(`mwan3User: skipping ${file}: it must be owned by root and not writable by group or others`);
    return;
  }
  const where = await pathReason(file);
  if (where !== null) {
    log.warn(`mwan3User: skipping ${file}: ${where}`);
    return;
  }
  await runOne(
    '/bin/sh',
    [file],
    { ACTION: e.action, INTERFACE: e.interface, DEVICE: e.device, PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    e,
    timeoutS,
    log,
    file,
  );
}

/**
 * Runs the hooks for one event, one after the other (so a directory's scripts see events in order).
 * Never throws: a failing, crashing or hanging hook is logged and, at the timeout, killed.
 */
export async function runHooks(path: string, e: HookEvent, timeoutS: number, log: HookLog): Promise<void> {
  for (const file of await hookPrograms(path, log)) await runOne(file, [], hookEnv(e), e, timeoutS, log, file);
}

async function runOne(file: string, args: string[], env: Record<string, string>, e: HookEvent, timeoutS: number, log: HookLog, shown: string): Promise<void> {
  const r = await runHookProcess(file, args, env, timeoutS);
  const output = outputSummary(r);
  const escaped = r.escaped > 0 ? `, and ${r.escaped} process${r.escaped === 1 ? '' : 'es'} it had started outside its group` : '';
  if (r.timedOut) log.warn(`hook ${shown} (${e.action} ${e.interface}) killed after ${timeoutS} s${escaped}${output ? `: ${output}` : ''}`);
  else if (r.exitCode !== 0) log.warn(`hook ${shown} (${e.action} ${e.interface}) failed: ${r.shortMessage}${output ? `: ${output}` : ''}`);
  else log.info(`hook ${shown} (${e.action} ${e.interface}) done${output ? `: ${output}` : ''}`);
}

/** Longest piece of a hook's output line that reaches the log. */
const LINE_SHOWN = 200;

/** The last three lines a hook printed (stdout's, then stderr's), each cut to a bounded length, on one line; and what was dropped. */
export function outputSummary(r: Pick<HookRun, 'stdout' | 'stderr'>): string {
  const lines = [r.stdout, r.stderr]
    .flatMap((t) => t.text().split('\n'))
    // Control characters (a carriage return, an escape sequence) would break the log's one line per entry.
    // eslint-disable-next-line no-control-regex
    .map((l) => l.replace(/[\x00-\x1f\x7f]/g, '?').trim())
    .filter((l) => l.length > 0)
    .slice(-3)
    .map((l) => (l.length > LINE_SHOWN ? `${l.slice(0, LINE_SHOWN)}... (${l.length} characters)` : l));
  const dropped = [
    ...(r.stdout.dropped > 0 ? [`${r.stdout.dropped} bytes of stdout`] : []),
    ...(r.stderr.dropped > 0 ? [`${r.stderr.dropped} bytes of stderr`] : []),
  ];
  return [lines.join(' | '), dropped.length > 0 ? `(output beyond ${HOOK_OUTPUT_KEPT} bytes per stream dropped: ${dropped.join(', ')})` : '']
    .filter((x) => x.length > 0)
    .join(' ');
}
