// What every command is given: the parsed command line, the logger, the command runner and where output goes.
import { DEFAULT_CONFIG_PATH } from '../config/load.js';
import { MwanError } from '../model/errors.js';
import type { Logger } from '../model/logger.js';
import { createRunner, NFT_MODES, type NftMode, type Runner } from '../system/runner.js';
import { createLogger } from './log.js';

export interface CommandContext {
  configPath: string;
  json: boolean;
  log: Logger;
  run: Runner;
  out: (text: string) => void;
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** The context of one command from its parsed options: -v logs every command run, -q only warnings and errors. */
export function createContext(
  values: CommandContext['values'],
  positionals: string[],
  write: (text: string) => void,
  // A long-running process's lines (the daemon's) carry the time, unless journald adds it.
  { timestamps = false }: { timestamps?: boolean } = {},
): CommandContext {
  const log = createLogger(values.verbose ? 'debug' : values.quiet ? 'warn' : 'info', undefined, undefined, timestamps);
  return {
    configPath: (values.config as string | undefined) ?? DEFAULT_CONFIG_PATH,
    json: values.json === true,
    log,
    run: createRunner({
      log: (line) => {
        log.debug(line);
      },
      nft: nftMode(process.env.NFT_MWAN_NFT),
      ...(process.env.NFT_MWAN_LIBNFTABLES ? { libnftables: process.env.NFT_MWAN_LIBNFTABLES } : {}),
    }),
    out: (text) => {
      write(text.endsWith('\n') ? text : `${text}\n`);
    },
    values,
    positionals,
  };
}

/** NFT_MWAN_NFT: `lib` (libnftables in process), `cli` (the nft command) or `auto` (the default: lib, else cli). */
export function nftMode(value: string | undefined): NftMode {
  if (value === undefined || value === '') return 'auto';
  if ((NFT_MODES as readonly string[]).includes(value)) return value as NftMode;
  throw new MwanError({ code: 'USAGE', summary: `NFT_MWAN_NFT must be one of ${NFT_MODES.join(', ')} (not "${value}")` });
}
