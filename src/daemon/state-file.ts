// The daemon's state on disk: written atomically (temp file + rename) so `status` and a restarted daemon read it whole.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LinkState } from '../model/facts.js';
import type { Tracker } from '../track/machine.js';
import type { DaemonState, InterfaceRecord } from '../model/state.js';

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

let writes = 0;

export async function writeState(dir: string, state: DaemonState): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const path = join(dir, STATE_FILE);
  // Unique per write: two writes in flight never share (and lose) a temp file.
  const tmp = `${path}.${process.pid}.${++writes}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o644 });
  await rename(tmp, path);
}

/** The state file, or null when there is none (or it is not one of ours). */
export async function readState(dir: string): Promise<DaemonState | null> {
  let text: string;
  try {
    text = await readFile(join(dir, STATE_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const parsed = JSON.parse(text) as DaemonState;
    // The file may be another version's, or not ours: its type is what we hope, not what we know.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    return parsed.version === 1 && typeof parsed.interfaces === 'object' ? parsed : null;
  } catch {
    return null;
  }
}
