// docs/errors.md and src/model/errors.ts list the same error codes, each documented with the exit status the code really maps to.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { exitStatusFor, type ErrorCode } from '../../src/model/errors.js';

const source = readFileSync(new URL('../../src/model/errors.ts', import.meta.url), 'utf8');
const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

/** The members of the ErrorCode union, read off its declaration. */
function declaredCodes(): string[] {
  const decl = /export type ErrorCode =([\s\S]*?);/.exec(source)?.[1] ?? '';
  return [...decl.matchAll(/\|\s*'([A-Z_]+)'/g)].map((m) => m[1] as string);
}

/** The rows of the Codes table: `CODE` | exit | ... */
function documentedCodes(): Map<string, number> {
  const table = doc.slice(doc.indexOf('## Codes'));
  return new Map([...table.matchAll(/^\| `([A-Z_]+)` \| (\d+) \|/gm)].map((m) => [m[1] as string, Number(m[2])]));
}

describe('docs/errors.md', () => {
  it('reads a code list from both (the test itself works)', () => {
    expect(declaredCodes()).toContain('CONFIG_INVALID');
    expect(documentedCodes().get('CONFIG_INVALID')).toBe(78);
  });

  it('documents every code of the ErrorCode type, and no other', () => {
    expect([...documentedCodes().keys()].sort()).toEqual(declaredCodes().sort());
  });

  it.each(declaredCodes())('gives %s the exit status exitStatusFor maps it to', (code) => {
    expect(documentedCodes().get(code)).toBe(exitStatusFor(code as ErrorCode));
  });

  it("documents use's pass-through exit status: the command's own, 128 + the signal number", () => {
    const statuses = doc.slice(doc.indexOf('## Exit statuses'), doc.indexOf('## Codes'));
    expect(statuses).toMatch(/nft-mwan use WAN -- COMMAND.*COMMAND's own status.*128 \+ the signal number/);
  });
});
