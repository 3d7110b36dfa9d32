// The running daemon's view, for commands that must agree with what it installed (status, explain, apply).
import { readState } from '../daemon/state-file.js';
import { processAlive } from '../system/process.js';
import { type DaemonState } from '../model/state.js';
import type { LinkStates } from '../model/facts.js';
import { stateDir } from './state-dir.js';
import type { CommandContext } from './context.js';

export async function liveStates(ctx: CommandContext): Promise<{ states: LinkStates; daemon: DaemonState | null; file: DaemonState | null }> {
  const file = await readState(stateDir(ctx));
  const daemon = file !== null && file.running && processAlive(file.pid) ? file : null;
  const states: LinkStates = daemon ? Object.fromEntries(Object.entries(daemon.interfaces).map(([n, i]) => [n, i.state])) : {};
  return { states, daemon, file };
}
