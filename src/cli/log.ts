// One-line, level-tagged log messages on stderr (journald keeps them as they are; elsewhere the daemon's are timed).
import type { Level, Logger } from '../model/logger.js';
const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** syslog priorities, for journald's `<N>` line prefix. */
const SYSLOG: Record<Level, number> = { debug: 7, info: 6, warn: 4, error: 3 };

export function createLogger(
  min: Level,
  write: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
  // Under systemd (JOURNAL_STREAM set) journald reads the level from the prefix; the text stays the same.
  journal = process.env.JOURNAL_STREAM !== undefined,
  // Not under journald, which stamps each line itself: the time, in ISO 8601 with the offset, first.
  timestamps = false,
  now: () => Date = () => new Date(),
): Logger {
  const at = (level: Level) => (message: string) => {
    if (ORDER[level] < ORDER[min]) return;
    // One event, one line: a multi-line message (an nft error) is folded.
    const line = `nft-mwan: ${level}: ${message.replace(/\n\s*/g, '; ')}`;
    write(journal ? `<${SYSLOG[level]}>${line}` : timestamps ? `${localIso(now())} ${line}` : line);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** 2026-12-03T10:53:41.123+01:00: local time with its offset, sortable and unambiguous. */
export function localIso(d: Date): string {
  const pad = (n: number, w = 2) => String(Math.abs(n)).padStart(w, '0');
  const off = -d.getTimezoneOffset();
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` +
    `.${pad(d.getMilliseconds(), 3)}${off < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`
  );
}
