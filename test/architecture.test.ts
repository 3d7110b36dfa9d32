// The shape of src/ as STYLE.md draws it: folders import only downwards (cli -> daemon -> engine ->
// compile/system/track -> config -> model), the folder graph has no cycle, compile/ stays pure, no file is long.
import { describe, expect, it } from 'vitest';
import { folderOf, sourceFiles } from './source-imports.js';

/** Generated code: a leaf anyone may import; its own imports and length are the generator's business. */
const GENERATED = 'generated';

/** The folders each folder may import (besides itself, and generated/ but for model). A new folder gets its row here. */
const ALLOWED: Record<string, readonly string[]> = {
  cli: ['daemon', 'engine', 'compile', 'system', 'track', 'config', 'model', 'uci', 'metrics'],
  daemon: ['engine', 'compile', 'system', 'track', 'config', 'model', 'metrics'],
  engine: ['compile', 'system', 'track', 'config', 'model'],
  compile: ['config', 'model'],
  system: ['config', 'model'],
  track: ['config', 'model'],
  uci: ['config', 'model'],
  metrics: ['system', 'model'],
  config: ['model'],
  model: [],
};

/** What compile/ must never reach, directly: it is pure (no I/O, no clock), and the planner of everything above. */
const COMPILE_FORBIDDEN = ['system', 'engine', 'daemon', 'cli', 'metrics'];

const MAX_LINES = 400;

const files = sourceFiles().filter((f) => folderOf(f.path) !== GENERATED);

interface Edge {
  from: string;
  to: string;
  /** `file imports specifier`, for the report. */
  where: string;
}

const edges: Edge[] = files.flatMap((f) =>
  f.imports.flatMap((i) => (i.target === null ? [] : [{ from: folderOf(f.path), to: folderOf(i.target), where: `${f.path} imports ${i.specifier}` }])),
);

/** The cycles of a graph, one path per cycle found by a depth-first walk (enough to name what to cut). */
function cycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const walk = (node: string, path: string[]) => {
    const at = path.indexOf(node);
    if (at >= 0) {
      found.push([...path.slice(at), node]);
      return;
    }
    if (done.has(node)) return;
    for (const next of graph.get(node) ?? []) walk(next, [...path, node]);
    done.add(node);
  };
  for (const node of [...graph.keys()].sort()) walk(node, []);
  return found;
}

function graphOf(pairs: Iterable<[string, string]>): Map<string, Set<string>> {
  const g = new Map<string, Set<string>>();
  for (const [from, to] of pairs) if (from !== to) g.set(from, (g.get(from) ?? new Set()).add(to));
  return g;
}

describe('the folder graph of src/', () => {
  it('is read from every source file, imports included (a parser that saw nothing would prove nothing)', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(edges.some((e) => e.from === 'cli' && e.to === 'engine')).toBe(true);
    expect(edges.some((e) => e.from === 'compile' && e.to === 'model')).toBe(true);
  });

  it('has a row in the table for every folder', () => {
    const folders = [...new Set(files.map((f) => folderOf(f.path)))].sort();
    expect(folders.filter((f) => !(f in ALLOWED))).toEqual([]);
  });

  it('is drawn without a cycle in the table itself', () => {
    expect(cycles(graphOf(Object.entries(ALLOWED).flatMap(([from, tos]) => tos.map((to): [string, string] => [from, to]))))).toEqual([]);
  });

  it('has every import go downwards, as the table allows', () => {
    const upward = edges
      .filter((e) => e.from !== e.to && !(e.to === GENERATED && e.from !== 'model') && !(ALLOWED[e.from] ?? []).includes(e.to))
      .map((e) => `${e.where} (${e.from} -> ${e.to} is not allowed)`);
    expect(upward).toEqual([]);
  });

  it('has no cycle', () => {
    const found = cycles(graphOf(edges.map((e): [string, string] => [e.from, e.to]))).map((c) => {
      // Each step of the cycle with one import that makes it, so the report says where to cut.
      const steps = c.slice(1).map((to, k) => edges.find((e) => e.from === c[k] && e.to === to)?.where ?? `${c[k]} -> ${to}`);
      return `${c.join(' -> ')}: ${steps.join('; ')}`;
    });
    expect(found).toEqual([]);
  });

  it('has generated/ as a leaf: it imports nothing of the project', () => {
    const generated = sourceFiles(GENERATED);
    expect(generated.length).toBeGreaterThan(0);
    expect(generated.flatMap((f) => f.imports.filter((i) => i.target !== null).map((i) => `${f.path} imports ${i.specifier}`))).toEqual([]);
  });

  it('never leaves src/ by a relative import', () => {
    expect(edges.filter((e) => e.to.startsWith('..')).map((e) => e.where)).toEqual([]);
  });
});

describe('src/compile', () => {
  const compile = files.filter((f) => folderOf(f.path) === 'compile');

  it('imports nothing of system, engine, daemon, cli or metrics, and no node: module (it is pure)', () => {
    expect(compile.length).toBeGreaterThan(0);
    const bad = compile.flatMap((f) =>
      f.imports
        .filter((i) => (i.target === null ? i.specifier.startsWith('node:') : COMPILE_FORBIDDEN.includes(folderOf(i.target))))
        .map((i) => `${f.path} imports ${i.specifier}`),
    );
    expect(bad).toEqual([]);
  });
});

describe('the files of src/', () => {
  it(`are at most ${MAX_LINES} lines each (generated code aside)`, () => {
    const long = files.filter((f) => f.lines > MAX_LINES).map((f) => `src/${f.path}: ${f.lines} lines`);
    expect(long, `files over ${MAX_LINES} lines: split them by concern`).toEqual([]);
  });

  it('have a daemon.ts that only wires its owners: under 300 lines', () => {
    const daemon = files.find((f) => f.path === 'daemon/daemon.ts');
    expect(daemon?.lines).toBeLessThan(300);
  });
});

describe('the cycle finder', () => {
  it.each([
    [
      'a chain',
      [
        ['a', 'b'],
        ['b', 'c'],
      ],
      [],
    ],
    [
      'a loop of two',
      [
        ['a', 'b'],
        ['b', 'a'],
      ],
      [['a', 'b', 'a']],
    ],
    [
      'a loop of three behind a chain',
      [
        ['x', 'a'],
        ['a', 'b'],
        ['b', 'c'],
        ['c', 'a'],
      ],
      [['a', 'b', 'c', 'a']],
    ],
  ] as [string, [string, string][], string[][]][])('finds in %s the cycles there are', (_, pairs, expected) => {
    expect(cycles(graphOf(pairs))).toEqual(expected);
  });
});
