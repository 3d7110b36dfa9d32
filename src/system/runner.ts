// Runs external commands (nft, ip) without a shell, with a timeout, logging each command line.
import { execa } from 'execa';
import { MwanError } from '../model/errors.js';

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
export type Runner = (file: string, args: readonly string[], opts?: RunOptions) => Promise<RunResult>;

/** Quotes a word for display only: commands are never run through a shell. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(file: string, args: readonly string[]): string {
  return [file, ...args].map(shellQuote).join(' ');
}

export function createRunner(o: { log?: (line: string) => void; defaultTimeoutMs?: number; prefix?: readonly string[] } = {}): Runner {
  const prefix = o.prefix ?? [];
  return async (file, args, opts = {}) => {
    // `prefix` lets tests run every command inside a namespace (`ip netns exec NS`).
    const [cmd, ...rest] = [...prefix, file, ...args] as [string, ...string[]];
    const shown = commandLine(file, args);
    o.log?.(`run: ${shown}`);
    const timeout = opts.timeoutMs ?? o.defaultTimeoutMs ?? 10_000;
    const child = execa(cmd, rest, {
      reject: false,
      timeout,
      input: opts.input ?? '',
      stripFinalNewline: false,
      env: { LC_ALL: 'C' },
    });
    // `ip netns exec` (the tests' prefix) execs its command: the pid is the command's own.
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    const r = await child;
    if (r.timedOut) {
      throw new MwanError({ code: 'COMMAND_TIMEOUT', summary: `${file} did not finish within ${timeout} ms`, command: shown });
    }
    if (r.exitCode === undefined) {
      const missing = (r.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
      throw new MwanError({
        code: missing ? 'COMMAND_MISSING' : 'COMMAND_FAILED',
        summary: missing ? `${cmd} is not installed (or not in PATH)` : `${file} could not be run`,
        command: shown,
        cause: r.cause,
      });
    }
    return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
  };
}

/** Runs a command that must succeed; a failure becomes COMMAND_FAILED with its stderr. */
export async function runChecked(run: Runner, summary: string, file: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
  const r = await run(file, args, opts);
  if (r.exitCode !== 0) {
    throw new MwanError({ code: 'COMMAND_FAILED', summary, command: commandLine(file, args), exitCode: r.exitCode, stderr: r.stderr });
  }
  return r;
}
