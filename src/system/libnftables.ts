// libnftables in this process (through koffi): one JSON context per process, calls one at a time, text out of its buffers.
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

type Ctx = object;
interface Fn<A extends unknown[], R> {
  (...args: A): R;
  async: (...args: [...A, (error: unknown, result: R) => void]) => void;
}
interface Bindings {
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
    lib = load(path);
    opened.set(path, lib);
  }
  return lib;
}

async function load(path: string): Promise<NftLibrary> {
  // Imported on first use: a missing koffi (or its native build) must only cost the in-process path.
  const koffi = (await import('koffi')).default;
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
