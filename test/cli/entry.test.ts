// The command line's layering: commands take their context from cli/context.ts, never from the dispatcher.
import { describe, expect, it } from 'vitest';
import { sourceFiles } from '../source-imports.js';

const ENTRY = 'cli/main.ts';

describe('src/cli', () => {
  const files = sourceFiles('cli');

  it('has the entry and the context module the commands are given', () => {
    expect(files.map((f) => f.path)).toEqual(expect.arrayContaining([ENTRY, 'cli/context.ts']));
  });

  it('has no module but the entry importing the entry (the dispatcher imports every command)', () => {
    const offenders = files.filter((f) => f.path !== ENTRY && f.imports.some((i) => i.target === ENTRY)).map((f) => f.path);
    expect(offenders).toEqual([]);
  });

  it('has every command module that takes a CommandContext take it from cli/context.ts', () => {
    const commands = files.filter((f) => f.path !== 'cli/context.ts' && f.imports.some((i) => i.target === 'cli/context.ts'));
    // Most commands do: a test that found none would prove nothing.
    expect(commands.length).toBeGreaterThan(10);
  });
});
