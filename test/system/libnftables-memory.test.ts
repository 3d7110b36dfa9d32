// What libnftables leaves in glibc's arenas goes back to the kernel: one arena for its worker threads, a trim per call.
import { describe, expect, it } from 'vitest';
import { contextRunner, limitArenas, M_ARENA_MAX, type Bindings, type MallocControl } from '../../src/system/libnftables.js';

/** A glibc stand-in recording every mallopt and trim, in order with the context's own calls. */
function recordingMalloc(events: string[]): MallocControl {
  return {
    mallopt: (param, value) => {
      events.push(`mallopt ${param} ${value}`);
      return 1;
    },
    trim: (pad) => {
      events.push(`trim ${pad}`);
      return 1;
    },
  };
}

/** Bindings whose nft_run_cmd_from_buffer answers `rc` on the worker (asynchronously) with `out` in the output buffer. */
function fakeBindings(events: string[], rc: number, out: string): Bindings {
  const fn = <A extends unknown[], R>(name: string, result: R) =>
    Object.assign(
      (..._args: A) => {
        events.push(name);
        return result;
      },
      {
        async: (...args: [...A, (error: unknown, r: R) => void]) => {
          const done = args[args.length - 1] as (error: unknown, r: R) => void;
          setImmediate(() => {
            events.push(`${name} (worker)`);
            done(null, result);
          });
        },
      },
    );
  return {
    ctxNew: fn('ctxNew', {}),
    setFlags: fn('setFlags', undefined),
    bufferOutput: fn('bufferOutput', 0),
    bufferError: fn('bufferError', 0),
    outputBuffer: fn('outputBuffer', out),
    errorBuffer: fn('errorBuffer', ''),
    setDryRun: fn('setDryRun', undefined),
    runBuffer: fn('runBuffer', rc),
    ctxFree: fn('ctxFree', undefined),
  };
}

describe('limitArenas', () => {
  it.each([
    { name: 'sets one arena when the environment says nothing', env: {}, expected: [`mallopt ${M_ARENA_MAX} 1`] },
    { name: 'leaves the limit MALLOC_ARENA_MAX gave glibc', env: { MALLOC_ARENA_MAX: '4' }, expected: [] },
  ])('$name', ({ env, expected }) => {
    const events: string[] = [];
    limitArenas(recordingMalloc(events), env);
    expect(events).toEqual(expected);
  });

  it('does nothing where the C library is not glibc', () => {
    expect(() => limitArenas(null, {})).not.toThrow();
  });
});

describe('contextRunner', () => {
  it.each([
    { rc: 0, exitCode: 0 },
    { rc: -1, exitCode: 1 },
  ])('trims the arenas after each call, once its buffers are read (library rc $rc)', async ({ rc, exitCode }) => {
    const events: string[] = [];
    const lib = contextRunner('libnftables.so.1', fakeBindings(events, rc, '{"nftables":[]}'), {}, recordingMalloc(events));
    const results = await Promise.all([lib.run('list ruleset'), lib.run('{"nftables":[]}', { dryRun: true })]);
    expect(results.map((r) => r.exitCode)).toEqual([exitCode, exitCode]);
    expect(results[0]?.stdout).toBe('{"nftables":[]}');
    const call = ['runBuffer (worker)', 'outputBuffer', 'errorBuffer', 'trim 0'];
    expect(events).toEqual([...call, 'setDryRun', ...call, 'setDryRun']);
  });

  it('still runs where there is no glibc to trim', async () => {
    const events: string[] = [];
    const lib = contextRunner('libnftables.so.1', fakeBindings(events, 0, 'out'), {}, null);
    expect(await lib.run('list tables')).toEqual({ stdout: 'out', stderr: '', exitCode: 0 });
    expect(events).toEqual(['runBuffer (worker)', 'outputBuffer', 'errorBuffer']);
  });
});
