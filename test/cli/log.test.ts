// The logger's line format: level-tagged, journald's priority prefix under systemd, the time first elsewhere.
import { describe, expect, it } from 'vitest';
import { createLogger, localIso } from '../../src/cli/log.js';

const AT = new Date(2026, 11, 3, 10, 53, 41, 7);

function lines(journal: boolean, timestamps: boolean): string[] {
  const out: string[] = [];
  const log = createLogger(
    'info',
    (l) => out.push(l),
    journal,
    timestamps,
    () => AT,
  );
  log.info('applied');
  log.debug('not shown at info');
  log.warn('nft said:\n  something');
  return out;
}

describe('createLogger', () => {
  it('with timestamps and no journald, starts each line with the local time and its offset', () => {
    expect(lines(false, true)).toEqual([`${localIso(AT)} nft-mwan: info: applied`, `${localIso(AT)} nft-mwan: warn: nft said:; something`]);
    expect(localIso(AT)).toMatch(/^2026-12-03T10:53:41\.007[+-]\d\d:\d\d$/);
  });

  it('under journald, leaves the time to the journal and gives it the syslog priority', () => {
    expect(lines(true, true)).toEqual(['<6>nft-mwan: info: applied', '<4>nft-mwan: warn: nft said:; something']);
  });

  it('without timestamps (a one-shot command), writes the bare line', () => {
    expect(lines(false, false)).toEqual(['nft-mwan: info: applied', 'nft-mwan: warn: nft said:; something']);
  });
});
