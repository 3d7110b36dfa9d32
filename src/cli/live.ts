// The running daemon's view, for commands that must agree with what it installed (status, explain, apply).
import { readState } from '../daemon/state-file.js';
import { processAlive } from '../system/process.js';
import { type DaemonState, type InterfaceRecord } from '../model/state.js';
import type { LinkStates } from '../model/facts.js';
import { stateDir } from './state-dir.js';
import type { CommandContext } from './context.js';

export async function liveStates(ctx: CommandContext): Promise<{ states: LinkStates; daemon: DaemonState | null; file: DaemonState | null }> {
  const file = await readState(stateDir(ctx));
  const daemon = running(file);
  const states: LinkStates = daemon
    ? Object.fromEntries(Object.entries(daemon.interfaces).map(([n, i]) => [n, i.ipv6 ? { ipv4: i.state, ipv6: i.ipv6.state } : i.state]))
    : {};
  return { states, daemon, file };
}

/** The state of the daemon running on this state directory, or null: none wrote one, or it is gone. */
export async function runningDaemon(dir: string): Promise<DaemonState | null> {
  return running(await readState(dir));
}

/** A WAN tracked per family (track6) as one record per family, labelled `NAME (ipv4)` and `NAME (ipv6)`; else itself. */
export function familyRecords(name: string, r: InterfaceRecord): [string, InterfaceRecord][] {
  return r.ipv6
    ? [
        [`${name} (ipv4)`, r],
        [`${name} (ipv6)`, r.ipv6],
      ]
    : [[name, r]];
}

function running(file: DaemonState | null): DaemonState | null {
  return file !== null && file.running && processAlive(file.pid) ? file : null;
}
