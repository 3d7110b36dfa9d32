// One-line, level-tagged log messages on stderr (journald keeps them as they are).
import type { Level, Logger } from '../model/logger.js';
const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** syslog priorities, for journald's `<N>` line prefix. */
const SYSLOG: Record<Level, number> = { debug: 7, info: 6, warn: 4, error: 3 };

export function createLogger(
  min: Level,
  write: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
  // Under systemd (JOURNAL_STREAM set) journald reads the level from the prefix; the text stays the same.
  journal = process.env.JOURNAL_STREAM !== undefined,
): Logger {
  const at = (level: Level) => (message: string) => {
    if (ORDER[level] < ORDER[min]) return;
    // One event, one line: a multi-line message (an nft error) is folded.
    const line = `nft-mwan: ${level}: ${message.replace(/\n\s*/g, '; ')}`;
    write(journal ? `<${SYSLOG[level]}>${line}` : line);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
