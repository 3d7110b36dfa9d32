// A plain JSON config is read without the JS scanner (an apply runs cold: the scan cost more than JSON.parse);
// the scanner and the tree come in only when the text needs them.
import { afterEach, describe, expect, it, vi } from 'vitest';

const calls = vi.hoisted(() => ({ scanner: 0, tree: 0 }));
vi.mock('jsonc-parser', async (importOriginal) => {
  const real = await importOriginal<typeof import('jsonc-parser')>();
  return {
    ...real,
    createScanner: (...a: Parameters<typeof real.createScanner>) => (calls.scanner++, real.createScanner(...a)),
    parseTree: (...a: Parameters<typeof real.parseTree>) => (calls.tree++, real.parseTree(...a)),
  };
});
const { parseDocument } = await import('../../src/config/parse.js');

const config = JSON.stringify(
  {
    interfaces: { wan1: { device: 'eth1', gateway: '192.0.2.1' } },
    policies: { p: { members: [{ interface: 'wan1' }] } },
    rules: Array.from({ length: 50 }, (_, i) => ({ name: `r${i}`, destIp: [`198.51.100.${i}/32`], policy: 'p' })),
  },
  null,
  2,
);

describe('parseDocument on plain JSON', () => {
  afterEach(() => {
    calls.scanner = 0;
    calls.tree = 0;
  });

  it('reads a plain config with neither the scanner nor the tree', () => {
    const r = parseDocument(config);
    expect(r.ok ? r.value : r.issues).toEqual(JSON.parse(config));
    expect(calls).toEqual({ scanner: 0, tree: 0 });
  });

  it('builds the tree only when a place is asked for, and then gives the place', () => {
    const r = parseDocument(config);
    expect(calls.tree).toBe(0);
    const lines = config.split('\n');
    const line = lines.findIndex((l) => l.includes('"198.51.100.3/32"'));
    expect(r.ok && r.locate('/rules/3/destIp/0')).toEqual({ line: line + 1, column: (lines[line] as string).indexOf('"198.51.100.3/32"') + 1 });
    expect(calls.tree).toBe(1);
  });

  it.each<[string, string]>([
    ['a backslash', config.replace('"eth1"', '"eth\\u0031"')],
    ['a "__proto__" string', config.replace('"eth1"', '"__proto__"')],
  ])('leaves a text with %s to the scanner, which finds it plain', (_what, text) => {
    const r = parseDocument(text);
    expect(r.ok).toBe(true);
    expect(calls.scanner).toBeGreaterThan(0);
    expect(calls.tree).toBe(0);
  });
});
