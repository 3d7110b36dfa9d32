// `nft-mwan import-uci [FILE] [--network FILE] [--device IF=DEV ...]`: mwan3's config as nft-mwan's, on stdout.
import { readFile } from 'node:fs/promises';
import { validateConfig } from '../config/validate.js';
import { MwanError } from '../model/errors.js';
import { importMwan3 } from '../uci/import.js';
import { parseUci } from '../uci/parse.js';
import type { CommandContext } from './context.js';

export default async function importUci(ctx: CommandContext): Promise<number> {
  const file = ctx.positionals[0] ?? '/etc/config/mwan3';
  const read = async (f: string) => {
    try {
      return await readFile(f, 'utf8');
    } catch (e) {
      throw new MwanError({ code: 'CONFIG_READ', summary: `cannot read ${f}: ${(e as Error).message}` });
    }
  };
  const devices: Record<string, string> = {};
  for (const d of (ctx.values.device as unknown as string[] | undefined) ?? []) {
    const m = /^([A-Za-z0-9_]+)=(\S+)$/.exec(d);
    if (!m) throw new MwanError({ code: 'USAGE', summary: `--device ${d}: expected INTERFACE=DEVICE, e.g. wan=eth1` });
    devices[m[1] as string] = m[2] as string;
  }
  const networkFile = ctx.values.network as string | undefined;
  const network = networkFile ? parseUci(await read(networkFile), networkFile) : undefined;
  const { config, notes } = importMwan3(parseUci(await read(file), file), { devices, ...(network ? { network } : {}) });
  // Notes are for the person migrating, whatever -q says: one line each on stderr. They come first, so a
  // config that fails the check below still says what was mapped differently (often the reason it fails).
  for (const n of notes) process.stderr.write(`nft-mwan: note: ${n}\n`);
  const checked = validateConfig(config);
  if (!checked.ok) {
    throw new MwanError({ code: 'CONFIG_INVALID', summary: `the imported config does not validate (please report it with ${file})`, issues: checked.issues });
  }
  ctx.out(JSON.stringify(config, null, 2));
  return 0;
}
