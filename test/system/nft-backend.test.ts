// Where nft runs: in process through libnftables only for a runner without a prefix, else (and as fallback) the command.
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { NftLibrary } from '../../src/system/libnftables.js';
import { listTables, startBatch } from '../../src/system/nft.js';
import { createRunner, type RunResult, type Runner } from '../../src/system/runner.js';
import { nftMode } from '../../src/cli/context.js';

// The library is never loaded by the test process (it runs in the host's namespace): every load goes to this fake.
const opened = vi.hoisted(() => ({ paths: [] as string[], fail: null as Error | null, lib: null as unknown }));
vi.mock('../../src/system/libnftables.js', () => ({
  LIBNFTABLES: 'libnftables.so.1',
  openLibnftables: (path: string) => {
    opened.paths.push(path);
    return opened.fail ? Promise.reject(opened.fail) : Promise.resolve(opened.lib);
  },
}));

const TABLES = JSON.stringify({ nftables: [{ metainfo: { version: '1.0.6' } }, { table: { family: 'inet', name: 'from_lib', handle: 1 } }] });

/** A library that answers every buffer with `answer`, recording what it was given. */
function fakeLibrary(answer: (buffer: string) => RunResult | Promise<RunResult>): NftLibrary & { calls: { buffer: string; dryRun: boolean }[] } {
  const calls: { buffer: string; dryRun: boolean }[] = [];
  return {
    path: 'libnftables.so.1',
    calls,
    run: async (buffer, o = {}) => {
      calls.push({ buffer, dryRun: o.dryRun === true });
      return answer(buffer);
    },
  };
}

/** A prefix standing in for `ip netns exec NS`: a script that prints one table named after the words it was given. */
function fakePrefix(): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-prefix-'));
  const script = join(dir, 'in-namespace');
  writeFileSync(script, `#!/bin/sh\nprintf '{"nftables":[{"table":{"family":"inet","name":"%s"}}]}' "$(echo "$*" | tr ' ' _)"\n`);
  chmodSync(script, 0o755);
  return [script];
}

beforeEach(() => {
  opened.paths = [];
  opened.fail = null;
  opened.lib = fakeLibrary(() => ({ stdout: TABLES, stderr: '', exitCode: 0 }));
});
afterEach(() => vi.restoreAllMocks());

describe('a runner and the in-process library', () => {
  it('a runner with a prefix never loads nor calls the library, even with nft forced to lib: nft runs under the prefix', async () => {
    const run = createRunner({ prefix: fakePrefix(), nft: 'lib' });
    expect(run.nft).toBeUndefined();
    expect(await listTables(run)).toEqual([{ family: 'inet', name: 'nft_-j_list_tables' }]);
    expect(opened.paths).toEqual([]);
  });

  it('a runner without a prefix lists through the library (the same words nft would be given)', async () => {
    const lib = fakeLibrary(() => ({ stdout: TABLES, stderr: '', exitCode: 0 }));
    opened.lib = lib;
    const lines: string[] = [];
    const run = createRunner({ nft: 'auto', libnftables: '/opt/nft/libnftables.so.1', log: (l) => lines.push(l) });
    expect(await listTables(run)).toEqual([{ family: 'inet', name: 'from_lib' }]);
    expect(opened.paths).toEqual(['/opt/nft/libnftables.so.1']);
    expect(lib.calls).toEqual([{ buffer: 'list tables', dryRun: false }]);
    expect(lines).toEqual(['nft: in process through /opt/nft/libnftables.so.1 (NFT_MWAN_NFT=auto)', 'run: nft -j list tables (libnftables)']);
  });

  it('nft forced to cli (the default of createRunner) has no library at all', () => {
    expect(createRunner({ nft: 'cli' }).nft).toBeUndefined();
    expect(createRunner().nft).toBeUndefined();
  });

  it('auto falls back to the command when the library cannot load, saying why once in the log', async () => {
    opened.fail = new Error('libnftables.so.9: cannot open shared object file: No such file or directory');
    const lines: string[] = [];
    const run = createRunner({ nft: 'auto', libnftables: 'libnftables.so.9', log: (l) => lines.push(l) });
    expect(await run.nft?.library()).toBeNull();
    expect(await run.nft?.library()).toBeNull();
    expect(lines).toEqual([
      'nft: libnftables cannot be loaded from libnftables.so.9 (libnftables.so.9: cannot open shared object file: No such file or directory): running the nft command',
    ]);
  });

  it('lib forced when the library cannot load is COMMAND_MISSING, naming the file and why', async () => {
    opened.fail = new Error("Cannot find package 'koffi'");
    const run = createRunner({ nft: 'lib', libnftables: '/nowhere/libnftables.so.1' });
    await expect(listTables(run)).rejects.toMatchObject({
      code: 'COMMAND_MISSING',
      message: expect.stringMatching(/libnftables cannot be loaded from \/nowhere\/libnftables\.so\.1 \(NFT_MWAN_NFT=lib\): Cannot find package 'koffi'/),
    });
  });

  it.each([
    [undefined, 'auto'],
    ['', 'auto'],
    ['lib', 'lib'],
    ['cli', 'cli'],
    ['auto', 'auto'],
  ] as const)('NFT_MWAN_NFT=%s selects %s', (value, mode) => {
    expect(nftMode(value)).toBe(mode);
  });

  it('any other NFT_MWAN_NFT is a USAGE error', () => {
    expect(() => nftMode('library')).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });
});

describe('a transaction in process', () => {
  /** A runner whose nft is the given library; running any command fails the test. */
  const withLibrary = (lib: NftLibrary): Runner =>
    Object.assign(
      async (file: string): Promise<RunResult> => {
        throw new Error(`${file} was run as a command`);
      },
      { nft: { library: () => Promise.resolve(lib), log: () => undefined, timeoutMs: 10_000, abandon: () => undefined } },
    );

  it('gives the batch as JSON text, tells the watch this process commits, and is committed once the call returns', async () => {
    let finish: (r: RunResult) => void = () => undefined;
    const lib = fakeLibrary(() => new Promise<RunResult>((resolve) => (finish = resolve)));
    const watched: number[] = [];
    const batch = { nftables: [{ add: { table: { family: 'inet', name: 't' } } }] };
    const tx = startBatch(withLibrary(lib), batch, { watch: (pid) => (watched.push(pid), new Promise<void>(() => undefined)) });
    let committed = false;
    void tx.committed.then(() => (committed = true));
    await vi.waitFor(() => expect(lib.calls).toHaveLength(1));
    expect(lib.calls[0]).toEqual({ buffer: JSON.stringify(batch), dryRun: false });
    expect(watched).toEqual([process.pid]);
    await new Promise((r) => setTimeout(r, 5));
    expect(committed).toBe(false);
    finish({ stdout: '', stderr: '', exitCode: 0 });
    await tx.done;
    await tx.committed;
    expect(committed).toBe(true);
  });

  it('check runs the batch as a dry run and tells no watch', async () => {
    const lib = fakeLibrary(() => ({ stdout: '', stderr: '', exitCode: 0 }));
    const watched: number[] = [];
    await startBatch(withLibrary(lib), { nftables: [] }, { check: true, watch: (pid) => (watched.push(pid), null) }).done;
    expect(lib.calls.map((c) => c.dryRun)).toEqual([true]);
    expect(watched).toEqual([]);
  });

  it("a rejected batch is COMMAND_FAILED with the library's error buffer as stderr; committed rejects too", async () => {
    const stderr = "internal:0:0-0: Error: No such file or directory; did you mean chain 'c' in table inet 't'?\n";
    const lib = fakeLibrary(() => ({ stdout: '', stderr, exitCode: 1 }));
    const tx = startBatch(withLibrary(lib), { nftables: [] });
    const expected = { code: 'COMMAND_FAILED', stderr, exitCode: 1, command: 'nft -j -f -', summary: 'nft rejected the batch (one transaction)' };
    await expect(tx.done).rejects.toMatchObject(expected);
    await expect(tx.committed).rejects.toMatchObject(expected);
  });
});

describe('a library call that never returns', () => {
  it('is given up after the runner timeout (COMMAND_TIMEOUT), and every later nft of the process runs as a command', async () => {
    const hung = fakeLibrary(() => new Promise<RunResult>(() => undefined));
    opened.lib = hung;
    const lines: string[] = [];
    const inProcess = createRunner({ nft: 'auto', defaultTimeoutMs: 50, log: (l) => lines.push(l) }).nft;
    // Commands go to this stand-in (nothing is run on the host): it records them and lists one table.
    const commands: string[] = [];
    const run: Runner = Object.assign(
      async (file: string, args: readonly string[]): Promise<RunResult> => {
        commands.push([file, ...args].join(' '));
        return { stdout: TABLES, stderr: '', exitCode: 0 };
      },
      { nft: inProcess },
    );
    await expect(listTables(run)).rejects.toMatchObject({ code: 'COMMAND_TIMEOUT', command: 'nft -j list tables (libnftables)' });
    expect(lines).toContain('nft: a libnftables call did not return within 50 ms: the library is given up for this process; nft runs as a command from now on');
    expect(await listTables(run)).toEqual([{ family: 'inet', name: 'from_lib' }]);
    expect(commands).toEqual(['nft -j list tables']);
    expect(hung.calls).toHaveLength(1);
  });
});
