// Config text: syntax errors and duplicate keys point at their line and column with the line itself; comments are
// allowed; every schema and semantic issue carries its place in the file; everything is reported in one pass.
import { describe, expect, it } from 'vitest';
import { configOrThrow, parseConfigText } from '../../src/config/load.js';
import { MAX_DEPTH, parseDocument, plainJson, plainParsed } from '../../src/config/parse.js';
import { MwanError } from '../../src/model/errors.js';

const FILE = '/etc/nft-mwan/config.json';
const valid = `{
  // two uplinks
  "interfaces": { "wan1": { "device": "eth1" }, "wan2": { "device": "eth2" } },
  /* one policy */
  "policies": { "balanced": { "members": [{ "interface": "wan1" }, { "interface": "wan2" }] } }
}
`;

function failure(text: string): MwanError {
  try {
    configOrThrow(parseConfigText(FILE, text));
  } catch (e) {
    if (e instanceof MwanError) return e;
    throw e;
  }
  throw new Error('expected the config to be refused');
}

describe('parseDocument', () => {
  it('accepts // and /* */ comments', () => {
    const r = parseConfigText(FILE, valid);
    expect(r.ok ? Object.keys(r.config.interfaces) : r.issues).toEqual(['wan1', 'wan2']);
  });

  it.each<[string, string, number, number, RegExp]>([
    ['a stray bracket', '{\n  "interfaces": {\n    "wan1": { "device": "eth1" ]\n  }\n}\n', 3, 32, /expected/],
    ['a missing comma', '{\n  "interfaces": {}\n  "policies": {}\n}', 3, 3, /expected ',' between values/],
    ['a trailing comma', '{\n  "interfaces": {},\n}', 3, 1, /expected a property name/],
    ['an unclosed string', '{\n  "interfaces": "eth1\n}', 2, 17, /string is not closed/],
    ['a truncated file', '{ "interfaces": ', 1, 17, /expected a value/],
  ])('%s: CONFIG_SYNTAX at FILE:LINE:COLUMN with the line and a caret', (_what, text, line, column, message) => {
    const e = failure(text);
    expect(e.code).toBe('CONFIG_SYNTAX');
    expect(e.exitStatus).toBe(78);
    // One problem: the parser's recovery after the first error reports its consequences, not further mistakes.
    expect(e.issues).toHaveLength(1);
    expect(e.issues[0]).toMatchObject({ line, column, message: expect.stringMatching(message) });
    const source = text.split('\n')[line - 1] as string;
    expect(e.message).toContain(`  ${FILE}:${line}:${column}: `);
    expect(e.message).toContain(`  | ${source}\n  | ${' '.repeat(column - 1)}^`);
  });

  it('refuses a duplicate key, naming both places', () => {
    const e = failure('{\n  "interfaces": {\n    "wan1": { "device": "eth1" },\n    "wan1": { "device": "eth2" }\n  },\n  "policies": {}\n}');
    expect(e.code).toBe('CONFIG_SYNTAX');
    expect(e.issues).toEqual([
      expect.objectContaining({ path: '/interfaces/wan1', line: 4, column: 5, message: 'duplicate key "wan1" (the first is at line 3)' }),
    ]);
  });

  it('refuses nesting deeper than any config needs without overflowing the stack', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const r = parseDocument(deep);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues[0]).toMatchObject({ line: 1, column: MAX_DEPTH + 1, message: expect.stringMatching(/nested deeper than 64 levels/) });
    expect(failure(deep).exitStatus).toBe(78);
  });

  it('an empty file is a syntax error, not an internal one', () => {
    expect(failure('').code).toBe('CONFIG_SYNTAX');
    expect(failure('   \n').code).toBe('CONFIG_SYNTAX');
  });
});

describe('issues carry their place in the file', () => {
  it('a schema issue and a semantic issue each name their JSON path and FILE:LINE:COLUMN', () => {
    const text = `{
  "interfaces": { "wan1": { "device": "eth1", "bogus": 1 } },
  "policies": { "p": { "members": [{ "interface": "wan9" }] } }
}`;
    const e = failure(text);
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toContain(`  /interfaces/wan1: unknown property "bogus"`);
    expect(e.message).toMatch(new RegExp(`/policies/p/members/0/interface: unknown interface "wan9" .*\\(${FILE}:3:38\\)`));
    expect(e.issues.map((i) => [i.path, i.line])).toEqual([
      ['/interfaces/wan1', 2],
      ['/policies/p/members/0/interface', 3],
    ]);
  });
});

describe('validation reports every problem in one pass', () => {
  it('schema problems and the semantic problems of the sound entries together, nothing twice', () => {
    const text = JSON.stringify({
      interfaces: {
        wan1: { device: 'eth1', gateway: 'not-an-address' }, // semantic: gateway
        wan2: { device: 'eth1' }, // semantic: device used twice
        wan3: { device: 'a device name that is far too long' }, // schema
      },
      policies: {
        p: { members: [{ interface: 'wan1' }, { interface: 'wan3' }, { interface: 'nope' }] }, // semantic: unknown nope
        q: { members: [{ interface: 'wan1', weight: 0 }] }, // schema
      },
      rules: [
        { name: 'r1', policy: 'p', proto: 'tcp', destPort: [99999] }, // schema
        { name: 'r2', policy: 'missing' }, // semantic
      ],
    });
    const e = failure(text);
    expect(e.issues.map((i) => i.path).sort()).toEqual(
      [
        '/interfaces/wan1/gateway',
        '/interfaces/wan2/device',
        '/interfaces/wan3/device',
        '/policies/p/members/2/interface',
        '/policies/q/members/0/weight',
        '/rules/0/destPort/0',
        '/rules/1/policy',
      ].sort(),
    );
  });

  it('a config whose shape is wrong reports the schema alone', () => {
    const e = failure('{ "interfaces": [], "policies": {} }');
    expect(e.issues.map((i) => i.path)).toEqual(['/interfaces']);
  });
});

describe('plainJson: the fast path is taken only where it gives what the tree gives', () => {
  it.each<[string, string, boolean]>([
    ['plain JSON', '{ "a": { "b": [1, "x", { "c": null }] }, "d": "a" }', true],
    ['the same key in two objects', '{ "a": { "k": 1 }, "b": { "k": 2 } }', true],
    ['a string value equal to a key', '{ "a": "a", "b": ["a", "b"] }', true],
    ['a line comment', '{ "a": 1 // one\n}', false],
    ['a block comment', '{ /* x */ "a": 1 }', false],
    ['a duplicate key', '{ "a": 1,\n "a": 2 }', false],
    ['a duplicate key written with an escape', '{ "a": 1, "\\u0061": 2 }', false],
    ['a __proto__ key', '{ "__proto__": { "a": 1 } }', false],
    ['nesting beyond the limit', `${'['.repeat(MAX_DEPTH + 1)}${']'.repeat(MAX_DEPTH + 1)}`, false],
    ['nesting at the limit', `${'['.repeat(MAX_DEPTH)}${']'.repeat(MAX_DEPTH)}`, true],
  ])('%s: %s', (_what, text, plain) => {
    expect(plainJson(text)).toBe(plain);
  });

  it.each<[string, string]>([
    ['a valid config', '{\n  "interfaces": { "wan1": { "device": "eth1" } },\n  "policies": { "p": { "members": [{ "interface": "wan1" }] } }\n}\n'],
    ['a schema problem', '{\n  "interfaces": { "wan1": { "device": "eth1", "weight": 3 } },\n  "policies": {}\n}\n'],
    ['a syntax error', '{\n  "interfaces": {},\n}'],
    ['a duplicate key', '{\n  "interfaces": {},\n  "interfaces": {}\n}'],
  ])('%s: the same result and positions as with comments (the tree path)', (_what, text) => {
    // A trailing comment sends the same document down the full path.
    const viaTree = parseConfigText(FILE, `${text}\n// end\n`);
    expect(parseConfigText(FILE, text)).toEqual(viaTree);
  });
});

describe('plainParsed: what plainJson says, without scanning the text', () => {
  const nested = (depth: number, inner = '1') => `${'{"k":['.repeat(depth / 2)}${inner}${']}'.repeat(depth / 2)}`;
  it.each<[string, string]>([
    ['plain JSON', '{ "a": { "b": [1, "x", { "c": null }] }, "d": "a" }'],
    ['colons, brackets and newlines written in strings', '{ "a:b": "c: [{", "d": ["::", "}]\\n"], "e": "\\"x\\": 1" }'],
    ['a duplicate key', '{ "a": 1,\n "a": 2 }'],
    ['a duplicate key whose first value held colons', '{ "a": "x:y", "a": ":" }'],
    ['a duplicate key in a nested object', '{ "a": [{ "k": 1, "k": 1 }], "b": "::" }'],
    ['a duplicate key written with an escape', '{ "a": 1, "\\u0061": 2 }'],
    ['a duplicate key beside an escaped colon', '{ "a": 1, "a": 2, "b": "\\u003a" }'],
    ['a __proto__ key', '{ "__proto__": { "a": 1 } }'],
    ['a __proto__ string value', '{ "a": "__proto__" }'],
    ['nesting beyond the limit', nested(MAX_DEPTH + 2)],
    ['nesting at the limit', nested(MAX_DEPTH)],
    ['nesting at the limit, empty inside', `${'['.repeat(MAX_DEPTH)}${']'.repeat(MAX_DEPTH)}`],
    ['nesting just below the limit', nested(MAX_DEPTH - 2, '{"x": [1]}')],
    ['far deeper nesting than the engine recurses', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
    ['a bare string', '"a:b"'],
    ['a config as written by JSON.stringify', JSON.stringify({ interfaces: { w: { device: 'e' } }, rules: [{ name: 'r', destIp: ['10.0.0.0/8'] }] }, null, 2)],
  ])('%s', (_what, text) => {
    expect(plainParsed(text, JSON.parse(text))).toBe(plainJson(text));
  });

  it('a duplicate key is still refused at its place when the text has no backslash', () => {
    const r = parseDocument('{\n  "a": "x:y",\n  "a": 1\n}');
    expect(r.ok ? r.value : r.issues).toEqual([
      expect.objectContaining({ path: '/a', line: 3, column: 3, message: 'duplicate key "a" (the first is at line 2)' }),
    ]);
  });
});
