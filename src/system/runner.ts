// Runs external commands (nft, ip) without a shell, with a timeout, logging each command line; nft maybe in process.
import { spawn } from 'node:child_process';
import { MwanError } from '../model/errors.js';
import { LIBNFTABLES, openLibnftables, type NftLibrary } from './libnftables.js';

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  /** Told the process id as soon as it is spawned (the daemon tells its own nft commits from others' by it). */
  onSpawn?: (pid: number) => void;
}
export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}
/** Runs `file args...`; a non-zero exit is a result, not an exception (callers decide). */
export interface Runner {
  (file: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /**
   * nft in this process (libnftables), src/system/nft.ts's first choice. Only a runner whose commands run in this
   * process's own network namespace has it: the library acts on the caller's namespace, so a runner with a prefix
   * (`ip netns exec NS`) never does.
   */
  readonly nft?: InProcessNft;
}

/** How nft runs: `lib` in process (an error when the library cannot load), `cli` the nft command, `auto` lib else cli. */
export type NftMode = 'auto' | 'lib' | 'cli';
export const NFT_MODES: readonly NftMode[] = ['auto', 'lib', 'cli'];

export interface InProcessNft {
  /** The library, loaded on the first call; null when `auto` could not load it (nft runs as a command then). */
  library(): Promise<NftLibrary | null>;
  /** The runner's log of commands run. */
  log(line: string): void;
  /** How long one call may take (the command's timeout): past it the call is given up (COMMAND_TIMEOUT). */
  readonly timeoutMs: number;
  /**
   * Stops using the library for the rest of the process: a call that never returned holds the context (calls run one
   * at a time), so every nft after it runs as a command.
   */
  abandon(why: string): void;
}

/** Quotes a word for display only: commands are never run through a shell. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(file: string, args: readonly string[]): string {
  return [file, ...args].map(shellQuote).join(' ');
}

export interface RunnerOptions {
  log?: (line: string) => void;
  defaultTimeoutMs?: number;
  /** Runs every command under this prefix (tests: `ip netns exec NS`); such a runner never runs nft in process. */
  prefix?: readonly string[];
  /** How nft runs when there is no prefix (default `cli`: only the command line asks for the library). */
  nft?: NftMode;
  /** The libnftables to load (default libnftables.so.1, found as dlopen finds it). */
  libnftables?: string;
}

export function createRunner(o: RunnerOptions = {}): Runner {
  const prefix = o.prefix ?? [];
  const log = o.log ?? (() => undefined);
  const run = async (file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> => {
    // `prefix` lets tests run every command inside a namespace (`ip netns exec NS`).
    const [cmd, ...rest] = [...prefix, file, ...args] as [string, ...string[]];
    const shown = commandLine(file, args);
    o.log?.(`run: ${shown}`);
    const timeout = opts.timeoutMs ?? o.defaultTimeoutMs ?? 10_000;
    const r = await spawnCollect(cmd, rest, opts.input ?? '', timeout, opts.onSpawn);
    if (r.timedOut) {
      throw new MwanError({ code: 'COMMAND_TIMEOUT', summary: `${file} did not finish within ${timeout} ms`, command: shown });
    }
    if (r.exitCode === undefined) {
      const missing = r.cause?.code === 'ENOENT';
      throw new MwanError({
        code: missing ? 'COMMAND_MISSING' : 'COMMAND_FAILED',
        summary: missing ? `${cmd} is not installed (or not in PATH)` : `${file} could not be run`,
        command: shown,
        cause: r.cause,
      });
    }
    return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
  };
  const mode = o.nft ?? 'cli';
  if (prefix.length > 0 || mode === 'cli') return run;
  return Object.assign(run, { nft: inProcessNft(mode, o.libnftables ?? LIBNFTABLES, log, o.defaultTimeoutMs ?? 10_000) });
}

interface Collected {
  stdout: string;
  stderr: string;
  /** undefined when the command could not be started or was ended by a signal. */
  exitCode?: number;
  timedOut: boolean;
  cause?: NodeJS.ErrnoException;
}

/**
 * One command through node:child_process directly (not execa: its load and its per-spawn work cost a CLI run some
 * 20 ms): `input` on stdin, stdout and stderr collected as text, the environment plus LC_ALL=C. Past `timeoutMs` it
 * gets SIGTERM, then SIGKILL 5 s later if it is still there.
 */
export function spawnCollect(cmd: string, args: readonly string[], input: string, timeoutMs: number, onSpawn?: (pid: number) => void): Promise<Collected> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { env: { ...process.env, LC_ALL: 'C' }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let cause: NodeJS.ErrnoException | undefined;
    let kill: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
      kill.unref();
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    // A command that exits without reading its input: the write fails with EPIPE, which is not the command's failure.
    child.stdin.on('error', () => undefined);
    child.on('error', (e) => (cause ??= e));
    child.on('close', (code) => {
      clearTimeout(timer);
      if (kill) clearTimeout(kill);
      const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString('utf8');
      done({ stdout: text(out), stderr: text(err), ...(code === null || cause ? {} : { exitCode: code }), timedOut, ...(cause ? { cause } : {}) });
    });
    if (child.pid !== undefined) onSpawn?.(child.pid);
    child.stdin.end(input);
  });
}

/** Decides once, at the first nft call, between the library and the command; says which in the log. */
function inProcessNft(mode: 'auto' | 'lib', path: string, log: (line: string) => void, timeoutMs: number): InProcessNft {
  let decided: Promise<NftLibrary | null> | undefined;
  let abandoned = false;
  const decide = async (): Promise<NftLibrary | null> => {
    try {
      const lib = await openLibnftables(path);
      log(`nft: in process through ${path} (NFT_MWAN_NFT=${mode})`);
      return lib;
    } catch (error) {
      const why = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
      if (mode === 'lib') {
        throw new MwanError({
          code: 'COMMAND_MISSING',
          summary: `libnftables cannot be loaded from ${path} (NFT_MWAN_NFT=lib): ${why}`,
          cause: error,
        });
      }
      log(`nft: libnftables cannot be loaded from ${path} (${why}): running the nft command`);
      return null;
    }
  };
  return {
    library: async () => (abandoned ? null : (decided ??= decide())),
    log,
    timeoutMs,
    abandon: (why) => {
      if (!abandoned) log(`nft: ${why}: the library is given up for this process; nft runs as a command from now on`);
      abandoned = true;
    },
  };
}

/** Runs a command that must succeed; a failure becomes COMMAND_FAILED with its stderr. */
export async function runChecked(run: Runner, summary: string, file: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
  return succeeded(summary, file, args, await run(file, args, opts));
}

/** `r`, a run of `file args` that must have succeeded; else COMMAND_FAILED with its stderr (also for nft in process). */
export function succeeded(summary: string, file: string, args: readonly string[], r: RunResult): RunResult {
  if (r.exitCode !== 0) {
    throw new MwanError({ code: 'COMMAND_FAILED', summary, command: commandLine(file, args), exitCode: r.exitCode, stderr: r.stderr });
  }
  return r;
}
