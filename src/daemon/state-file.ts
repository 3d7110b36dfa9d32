// The daemon's state on disk: written atomically (temp file + rename) so `status` and a restarted daemon read it whole.
import { mkdir, readFile, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../system/atomic-file.js';
import type { LinkState } from '../model/facts.js';
import type { Tracker } from '../track/machine.js';
import type { DaemonState, InterfaceRecord } from '../model/state.js';
import type { Logger } from '../model/logger.js';

export const DEFAULT_STATE_DIR = '/run/nft-mwan';
export const STATE_FILE = 'state.json';
export const CONTROL_SOCKET = 'control.sock';

export function interfaceRecord(t: Tracker, state: LinkState, stateSince: number, tracking: boolean): InterfaceRecord {
  const r = t.lastRound;
  return {
    state,
    tracked: t.state,
    since: new Date(stateSince).toISOString(),
    carrier: t.carrier,
    forcedDown: t.forcedDown,
    tracking,
    fails: t.fails,
    goods: t.goods,
    lossPct: r?.lossPct ?? null,
    rttMs: r?.rttMs ?? null,
    lastRound: r ? { ...r, at: new Date(r.at).toISOString() } : null,
  };
}

export async function writeState(dir: string, state: DaemonState): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const path = join(dir, STATE_FILE);
  await writeFileAtomic(path, `${JSON.stringify(state, null, 2)}\n`, 0o644);
}

/** The state file, or null when there is none (or it is not one of ours: see `readStateFile` for why). */
export async function readState(dir: string): Promise<DaemonState | null> {
  return (await readStateFile(dir)).state;
}

/** The state file as read: its state, or why a file that is there is not one (not JSON, another version). */
export async function readStateFile(dir: string): Promise<{ state: DaemonState | null; corrupt: string | null }> {
  let text: string;
  try {
    text = await readFile(join(dir, STATE_FILE), 'utf8');
  } catch (e) {
    // No file, or no directory for it (a part of the path is a file): nothing to go on from, and the daemon's own
    // mkdir of the directory says what is wrong with the path.
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { state: null, corrupt: null };
    throw e;
  }
  let parsed: DaemonState;
  try {
    parsed = JSON.parse(text) as DaemonState;
  } catch (e) {
    return { state: null, corrupt: `not JSON: ${(e as Error).message}` };
  }
  // The file may be another version's, or not ours: its type is what we hope, not what we know.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
  if (parsed !== null && parsed.version === 1 && typeof parsed.interfaces === 'object' && parsed.interfaces !== null) return { state: parsed, corrupt: null };
  return { state: null, corrupt: 'not a version 1 state of nft-mwan' };
}

/** Renames a corrupt state file to state.json.corrupt-TIMESTAMP, kept for the operator to look at; returns the new path. */
export async function setAsideState(dir: string, now: Date): Promise<string> {
  const aside = join(dir, `${STATE_FILE}.corrupt-${now.toISOString().replace(/[:.]/g, '-')}`);
  await rename(join(dir, STATE_FILE), aside);
  return aside;
}

/** What the last daemon left in the state file; a corrupt file is said so and kept aside, never silently ignored. */
export async function previousState(dir: string, log: Pick<Logger, 'warn'>): Promise<DaemonState | null> {
  let read;
  try {
    read = await readStateFile(dir);
  } catch (e) {
    log.warn(`cannot read the state file in ${dir}: ${(e as Error).message}; interfaces start from their initialState`);
    return null;
  }
  if (read.corrupt !== null) {
    const why = read.corrupt;
    const aside = await setAsideState(dir, new Date()).catch((e: unknown) => `(not kept aside: ${(e as Error).message})`);
    log.warn(
      `the state file ${join(dir, STATE_FILE)} is corrupt (${why}), kept as ${aside}: interfaces start from their initialState, an operator's ifdown recorded there is lost`,
    );
  }
  return read.state;
}

/** The daemon's state as the state file holds it, for this process at this moment. */
export function stateSnapshot(o: Pick<DaemonState, 'running' | 'configPath' | 'startedAt' | 'interfaces' | 'lastApply'>): DaemonState {
  return { version: 1, pid: process.pid, ...o, configPath: resolve(o.configPath), updatedAt: new Date().toISOString() };
}
