// The control socket's commands (reload, ifup, ifdown): what the daemon answers an operator, and what it asks of itself.
import type { Logger } from '../model/logger.js';
import type { ControlReply, ControlRequest } from './control.js';
import { key6 } from '../model/tracker-keys.js';
import type { WanTrackers } from './trackers.js';

export interface OperatorDeps {
  reload: () => Promise<ControlReply>;
  trackers: Pick<WanTrackers, 'has' | 'names' | 'state'>;
  /** `nft-mwan ifdown` / `ifup`: an operator event for one WAN. */
  force: (name: string, down: boolean) => void;
  /** Resolves once the states recorded now are applied. */
  applied: () => Promise<void>;
  log: Pick<Logger, 'info'>;
}

export function operatorCommands(d: OperatorDeps): (req: ControlRequest) => Promise<ControlReply> {
  const upDown = async (req: Extract<ControlRequest, { command: 'ifup' | 'ifdown' }>): Promise<ControlReply> => {
    const name = req.interface;
    if (!d.trackers.has(name)) return { ok: false, message: `unknown interface "${name}" (interfaces: ${d.trackers.names().join(', ')})` };
    d.log.info(`${req.command} ${name} (operator)`);
    d.force(name, req.command === 'ifdown');
    await d.applied();
    const state = d.trackers.state(name) ?? 'offline';
    // A WAN tracked per family (track6): both families were acted on, both are told.
    const state6 = d.trackers.state(key6(name));
    const shown = state6 === undefined ? state : `${state} (IPv6 ${state6})`;
    const waiting = req.command === 'ifup' && (state !== 'online' || (state6 ?? 'online') !== 'online');
    return { ok: true, message: `${name} is ${shown}${waiting ? ' (waiting for its link and probes)' : ''}` };
  };
  return async (req) => {
    switch (req.command) {
      case 'reload':
        return d.reload();
      case 'ifup':
      case 'ifdown':
        return upDown(req);
      default:
        return { ok: false, message: `unknown command ${JSON.stringify((req as { command?: unknown }).command)}` };
    }
  };
}
