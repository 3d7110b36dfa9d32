// libnftables in this process (through koffi): one JSON context per process, calls one at a time, text out of its buffers.
import { createRequire } from 'node:module';
import type { RunResult } from './runner.js';

/** The library's own name: the soname every nftables install has (libnftables1 on Debian). */
export const LIBNFTABLES = 'libnftables.so.1';

/** NFT_CTX_OUTPUT_JSON (libnftables.h): listings in JSON, as `nft -j` prints them. */
const OUTPUT_JSON = 1 << 4;

/**
 * One libnftables context. `run` gives what `nft -j` would: output on stdout, messages on stderr, and exit code 1
 * for a failure (the library's -1). A buffer is parsed as JSON first, then as nft's own language when it is not
 * JSON at all: unparseable JSON fails with a syntax error (nft 1.0.6's CLI instead exits 0 on it from stdin).
 */
export interface NftLibrary {
  /** The file loaded, as dlopen was given it. */
  readonly path: string;
  /** Runs one buffer; `dryRun` has the kernel check the transaction and abort it (`nft -c`). */
  run(buffer: string, o?: { dryRun?: boolean }): Promise<RunResult>;
}

export type Ctx = object;
interface Fn<A extends unknown[], R> {
  (...args: A): R;
  async: (...args: [...A, (error: unknown, result: R) => void]) => void;
}
export interface Bindings {
  ctxNew: Fn<[number], Ctx | null>;
  setFlags: Fn<[Ctx, number], void>;
  bufferOutput: Fn<[Ctx], number>;
  bufferError: Fn<[Ctx], number>;
  outputBuffer: Fn<[Ctx], string | null>;
  errorBuffer: Fn<[Ctx], string | null>;
  setDryRun: Fn<[Ctx, boolean], void>;
  runBuffer: Fn<[Ctx, string], number>;
  ctxFree: Fn<[Ctx], void>;
}

/**
 * glibc's allocator, as far as this process steers it (null where the C library is not glibc, e.g. musl).
 * libnftables parses a 1,000-rule batch and its listing in many small allocations on koffi's worker threads
 * (libuv's pool: any of four), and glibc gives each thread an arena of its own that keeps the freed memory: the
 * daemon's RSS grew by about 1.5 MB per state change that way, none of it in use (issue 21, docs/benchmarks.md).
 */
export interface MallocControl {
  /** mallopt(3); returns 1 on success. */
  mallopt(param: number, value: number): number;
  /** malloc_trim(3): gives the free pages of every arena back to the kernel. */
  trim(pad: number): number;
}

/** mallopt's M_ARENA_MAX (malloc.h). */
export const M_ARENA_MAX = -8;

/**
 * Before the first call: one arena for the threads that have none yet (libnftables' worker threads among them),
 * unless MALLOC_ARENA_MAX already says how many (glibc read it at start-up).
 */
export function limitArenas(malloc: MallocControl | null, env: NodeJS.ProcessEnv): void {
  if (malloc && env.MALLOC_ARENA_MAX === undefined) malloc.mallopt(M_ARENA_MAX, 1);
}

/** Opened libraries by path: a process keeps its context for its lifetime (the daemon's every apply uses it). */
const opened = new Map<string, Promise<NftLibrary>>();

/**
 * The library at `path` with a fresh JSON context, opened once per process. Rejects (with the reason as text)
 * when koffi or the library cannot be loaded, or the context cannot be made.
 *
 * Only for nft that would run in this process's own network namespace: the library acts on the caller's.
 */
export function openLibnftables(path: string = LIBNFTABLES): Promise<NftLibrary> {
  let lib = opened.get(path);
  if (!lib) {
    lib = load(path).then(({ f, ctx, malloc }) => {
      limitArenas(malloc, process.env);
      return contextRunner(path, f, ctx, malloc);
    });
    opened.set(path, lib);
  }
  return lib;
}

// async: a failure to load is a rejection, as the caller's fallback expects.
// eslint-disable-next-line @typescript-eslint/require-await
async function load(path: string): Promise<{ f: Bindings; ctx: Ctx; malloc: MallocControl | null }> {
  // Required on first use: a missing koffi (or its native build) must only cost the in-process path. require, not
  // import(): the bundle is a script (bin/nft-mwan compiles it with a code cache), which has no dynamic import.
  const require = createRequire(import.meta.url);
  const koffi = require('koffi') as (typeof import('koffi'))['default'];
  const so = koffi.load(path);
  const ctxType = koffi.pointer('nft_ctx', koffi.opaque());
  const bind = <A extends unknown[], R>(name: string, result: string | object, args: (string | object)[]) =>
    so.func(name, result as string, args as string[]) as unknown as Fn<A, R>;
  const f: Bindings = {
    ctxNew: bind('nft_ctx_new', ctxType, ['uint32']),
    setFlags: bind('nft_ctx_output_set_flags', 'void', [ctxType, 'uint32']),
    bufferOutput: bind('nft_ctx_buffer_output', 'int', [ctxType]),
    bufferError: bind('nft_ctx_buffer_error', 'int', [ctxType]),
    outputBuffer: bind('nft_ctx_get_output_buffer', 'const char *', [ctxType]),
    errorBuffer: bind('nft_ctx_get_error_buffer', 'const char *', [ctxType]),
    setDryRun: bind('nft_ctx_set_dry_run', 'void', [ctxType, 'bool']),
    runBuffer: bind('nft_run_cmd_from_buffer', 'int', [ctxType, 'const char *']),
    ctxFree: bind('nft_ctx_free', 'void', [ctxType]),
  };
  const ctx = f.ctxNew(0);
  if (ctx === null) throw new Error(`nft_ctx_new failed in ${path}`);
  f.setFlags(ctx, OUTPUT_JSON);
  if (f.bufferOutput(ctx) !== 0 || f.bufferError(ctx) !== 0) {
    f.ctxFree(ctx);
    throw new Error(`${path}: cannot buffer the context's output`);
  }
  return { f, ctx, malloc: glibcMalloc(koffi) };
}

/** mallopt and malloc_trim from glibc, or null (another C library, or koffi cannot load it). */
function glibcMalloc(koffi: (typeof import('koffi'))['default']): MallocControl | null {
  try {
    const libc = koffi.load('libc.so.6');
    const mallopt = libc.func('mallopt', 'int', ['int', 'int']) as unknown as MallocControl['mallopt'];
    const trim = libc.func('malloc_trim', 'int', ['size_t']) as unknown as MallocControl['trim'];
    return { mallopt, trim };
  } catch {
    return null;
  }
}

/** Runs buffers in `ctx` one at a time; each call's freed memory goes back to the kernel once its buffers are read. */
export function contextRunner(path: string, f: Bindings, ctx: Ctx, malloc: MallocControl | null): NftLibrary {
  // One call at a time: a context is not to be shared by two threads, and each call's buffers are read before the next.
  let queue: Promise<unknown> = Promise.resolve();
  const run = (buffer: string, o: { dryRun?: boolean } = {}): Promise<RunResult> => {
    const call = queue.then(async () => {
      if (o.dryRun) f.setDryRun(ctx, true);
      try {
        // On koffi's worker thread: a 1,000-rule transaction takes tens of milliseconds the event loop keeps.
        const rc = await new Promise<number>((resolve, reject) => {
          f.runBuffer.async(ctx, buffer, (error, result) => {
            if (error) reject(error instanceof Error ? error : new Error(`koffi: ${JSON.stringify(error)}`));
            else resolve(result);
          });
        });
        // Both buffers every time: each read empties it, so nothing of this call is left for the next.
        const stdout = f.outputBuffer(ctx) ?? '';
        const stderr = f.errorBuffer(ctx) ?? '';
        malloc?.trim(0);
        return { stdout, stderr, exitCode: rc === 0 ? 0 : 1 };
      } finally {
        if (o.dryRun) f.setDryRun(ctx, false);
      }
    });
    queue = call.catch(() => undefined);
    return call;
  };
  return { path, run };
}
