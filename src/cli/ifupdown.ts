// `nft-mwan ifup IF` / `ifdown IF`: ask the running daemon to put a WAN back in service or take it out.
import { join } from 'node:path';
import { MwanError } from '../model/errors.js';
import { sendControl } from '../daemon/control.js';
import { CONTROL_SOCKET } from '../daemon/state-file.js';
import { stateDir } from './state-dir.js';
import type { CommandContext } from './context.js';

export function ifUpDown(command: 'ifup' | 'ifdown') {
  return async (ctx: CommandContext): Promise<number> => {
    const name = ctx.positionals[0];
    if (name === undefined || ctx.positionals.length > 1) {
      throw new MwanError({ code: 'USAGE', summary: `usage: nft-mwan ${command} INTERFACE` });
    }
    const reply = await sendControl(join(stateDir(ctx), CONTROL_SOCKET), { command, interface: name });
    if (!reply.ok) throw new MwanError({ code: 'DAEMON', summary: `${command} ${name}: ${reply.message}` });
    ctx.out(reply.message);
    return 0;
  };
}
