// One-line, level-tagged log messages on stderr (journald keeps them as they are).
export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function createLogger(min: Level, write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Logger {
  const at = (level: Level) => (message: string) => {
    if (ORDER[level] >= ORDER[min]) write(`nft-mwan: ${level}: ${message}`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
