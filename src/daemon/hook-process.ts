// One hook process: its output kept bounded, and at the timeout it and everything it started killed (its group, and by a mark in the environment).
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { execa } from 'execa';

/** What is kept of each stream of one hook run: the last bytes, so the log shows how it ended. */
export const HOOK_OUTPUT_KEPT = 64 * 1024;

/** Set in every hook's environment; inherited by what it starts, so a process that left the group is still found. */
export const HOOK_MARK_VAR = 'NFT_MWAN_HOOK_RUN';

/** The tail of one stream: at most `cap` bytes in one buffer reused for the whole run, and how many were dropped before them. */
export class StreamTail {
  private readonly ring: Buffer;
  /** Where the next byte goes, and how many bytes the ring holds. */
  private at = 0;
  private held = 0;
  dropped = 0;

  constructor(cap = HOOK_OUTPUT_KEPT) {
    this.ring = Buffer.alloc(cap);
  }

  push(chunk: Buffer): void {
    const cap = this.ring.length;
    // Only the last `cap` bytes of the chunk can survive; copied in at most two pieces, nothing allocated.
    const tail = chunk.length > cap ? chunk.subarray(chunk.length - cap) : chunk;
    const first = Math.min(tail.length, cap - this.at);
    tail.copy(this.ring, this.at, 0, first);
    tail.copy(this.ring, 0, first);
    this.at = (this.at + tail.length) % cap;
    const held = this.held + chunk.length;
    this.dropped += Math.max(0, held - cap);
    this.held = Math.min(held, cap);
  }

  text(): string {
    const start = (this.at - this.held + this.ring.length) % this.ring.length;
    const bytes =
      start + this.held <= this.ring.length
        ? this.ring.subarray(start, start + this.held)
        : Buffer.concat([this.ring.subarray(start), this.ring.subarray(0, this.at)]);
    return bytes.toString('utf8');
  }
}

export interface HookRun {
  exitCode: number | null;
  timedOut: boolean;
  /** execa's one-line reason of a failure (exit code or signal). */
  shortMessage: string;
  stdout: StreamTail;
  stderr: StreamTail;
  /** Processes of this run killed at the timeout although they had left its process group (`setsid`). */
  escaped: number;
}

/**
 * Runs `file` in a process group of its own (detached) with a unique mark in its environment. At `timeoutS` the
 * group is killed, then every process still carrying the mark (found through /proc/PID/environ): that reaches
 * children that called setsid or double-forked. Not reached: a process that cleared or rewrote its environment
 * before exec (`env -i`), or one that never belonged to the run.
 */
export async function runHookProcess(file: string, args: readonly string[], env: Record<string, string>, timeoutS: number): Promise<HookRun> {
  const mark = `${process.pid}-${randomBytes(8).toString('hex')}`;
  const child = execa(file, args, {
    reject: false,
    env: { ...env, [HOOK_MARK_VAR]: mark },
    extendEnv: false,
    stdin: 'ignore',
    buffer: false,
    detached: true,
  });
  const stdout = new StreamTail();
  const stderr = new StreamTail();
  // execa types the streams as present with pipes (the default); a child that could not start has them too.
  child.stdout.on('data', (c: Buffer) => {
    stdout.push(c);
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr.push(c);
  });
  let timedOut = false;
  let killing: Promise<number> = Promise.resolve(0);
  const timer = setTimeout(() => {
    timedOut = true;
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    killing = killMarked(mark);
  }, timeoutS * 1000);
  const r = await child;
  clearTimeout(timer);
  const escaped = await killing;
  return { exitCode: r.exitCode ?? null, timedOut, shortMessage: String(r.shortMessage), stdout, stderr, escaped };
}

/** Kills every process whose environment carries `mark` (a few passes: one may fork while the first is killed); returns how many. */
export async function killMarked(mark: string): Promise<number> {
  const needle = Buffer.from(`\0${HOOK_MARK_VAR}=${mark}\0`);
  let killed = 0;
  // The group's members, killed just before, are given a moment to be gone (a dead process's environ is empty).
  await new Promise((r) => setTimeout(r, 20));
  for (let pass = 0; pass < 5; pass++) {
    const pids = await markedPids(needle);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch {
        // Gone meanwhile.
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return killed;
}

async function markedPids(needle: Buffer): Promise<number[]> {
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((n) => /^\d+$/.test(n)).map(Number);
  const found: number[] = [];
  await Promise.all(
    pids.map(async (pid) => {
      if (pid === process.pid) return;
      // The environment as the process was exec'd with; a leading NUL lets the first variable match too.
      const environ = await readFile(`/proc/${pid}/environ`).catch(() => null);
      if (environ !== null && environ.length > 0 && Buffer.concat([Buffer.from([0]), environ, Buffer.from([0])]).includes(needle)) found.push(pid);
    }),
  );
  return found;
}
