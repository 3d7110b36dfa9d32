// Network-namespace lab plumbing: unique names, commands inside namespaces, undo stack, polling, dumps.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface Background {
  pid: number;
  /** Everything printed on stdout so far. */
  output(): string;
  /** Resolves with the first stdout line that satisfies `test`, or rejects after `timeoutMs`. */
  waitForLine(test: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** SIGTERM, then SIGKILL after a grace period; resolves with what was printed. */
  stop(): Promise<string>;
}

// The agent is plain JavaScript beside this file; from the compiled dist/lab/ it is two levels up.
const AGENT = [new URL('./agent.mjs', import.meta.url), new URL('../../lab/agent.mjs', import.meta.url)]
  .map((u) => fileURLToPath(u))
  .find((p) => existsSync(p)) as string;

/**
 * A lab owns every namespace it creates (named `${prefix}-...`) and every process it starts; `teardown()`
 * undoes all of it, last in first out, even after failures. Nothing ever runs in the host namespace:
 * veths are created from inside a namespace with both ends in namespaces.
 */
export class Lab {
  readonly prefix: string;
  private readonly undo: { what: string; fn: () => Promise<unknown> }[] = [];
  private readonly namespaces: string[] = [];

  constructor(prefix = `nm${randomBytes(3).toString('hex')}`) {
    this.prefix = prefix;
  }

  ns(name: string): string {
    return `${this.prefix}-${name}`;
  }

  onTeardown(what: string, fn: () => Promise<unknown>): void {
    this.undo.push({ what, fn });
  }

  async addNamespace(name: string): Promise<string> {
    const ns = this.ns(name);
    await execa('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    this.onTeardown(`delete namespace ${ns}`, () => execa('ip', ['netns', 'del', ns], { reject: false }));
    await this.sh(ns, 'ip', ['link', 'set', 'lo', 'up']);
    return ns;
  }

  /** Runs a command inside `ns` (full namespace name) and returns its result without throwing. */
  async exec(ns: string, file: string, args: readonly string[], o: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
    const r = await execa('ip', ['netns', 'exec', ns, file, ...args], {
      reject: false,
      input: o.input ?? '',
      timeout: o.timeoutMs ?? 30_000,
      env: { LC_ALL: 'C' },
    });
    return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? -1 };
  }

  /** Like exec, but a non-zero exit throws with the command and its stderr. */
  async sh(ns: string, file: string, args: readonly string[], o: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.exec(ns, file, args, o);
    if (r.exitCode !== 0) throw new Error(`[${ns}] ${file} ${args.join(' ')} exited ${r.exitCode}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** Starts a long-running process inside `ns`; it is stopped at teardown if still running. */
  spawn(ns: string, file: string, args: readonly string[]): Background {
    const child: ResultPromise = execa('ip', ['netns', 'exec', ns, file, ...args], { reject: false, buffer: false, stdin: 'ignore' });
    let out = '';
    const waiters: { test: (l: string) => boolean; resolve: (l: string) => void }[] = [];
    let partial = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      partial += chunk.toString();
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        for (const w of [...waiters]) {
          if (w.test(line)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    });
    let exited = false;
    const done = child.then(() => {
      exited = true;
    });
    const pid = child.pid ?? -1;
    const stop = async () => {
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
        await done;
        clearTimeout(timer);
      }
      return out;
    };
    this.onTeardown(`stop pid ${pid}`, stop);
    return {
      pid,
      output: () => out,
      waitForLine: (test, timeoutMs = 10_000) => {
        const seen = out.split('\n').find(test);
        if (seen !== undefined) return Promise.resolve(seen);
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`[${ns}] ${file}: no matching line within ${timeoutMs} ms; output: ${out}`)), timeoutMs);
          waiters.push({ test, resolve: (l) => (clearTimeout(timer), resolve(l)) });
          void done.then(() => setTimeout(() => reject(new Error(`[${ns}] ${file} exited; output: ${out}`)), 50));
        });
      },
      stop,
    };
  }

  /** Runs a lab agent script (lab/agent.mjs) with this Node binary inside `ns`. */
  agentArgs(sub: string, args: readonly string[]): [string, string[]] {
    return [process.execPath, [AGENT, sub, ...args]];
  }

  async dump(): Promise<string> {
    const parts: string[] = [];
    for (const ns of this.namespaces) {
      for (const [file, args] of [
        ['nft', ['list', 'ruleset']],
        ['ip', ['rule']],
        ['ip', ['route', 'show', 'table', 'all']],
        ['ip', ['-br', 'addr']],
        ['conntrack', ['-L']],
      ] as const) {
        const r = await this.exec(ns, file, args).catch((e: Error) => ({ stdout: '', stderr: e.message, exitCode: -1 }));
        parts.push(`### [${ns}] ${file} ${args.join(' ')}\n${r.stdout}${r.stderr}`);
      }
    }
    return parts.join('\n');
  }

  async teardown(): Promise<void> {
    const errors: string[] = [];
    while (this.undo.length > 0) {
      const step = this.undo.pop() as { what: string; fn: () => Promise<unknown> };
      try {
        await step.fn();
      } catch (e) {
        errors.push(`${step.what}: ${(e as Error).message}`);
      }
    }
    if (errors.length > 0) throw new Error(`lab teardown had errors:\n${errors.join('\n')}`);
  }
}

/** Polls `fn` until it returns a truthy value or the deadline passes (no fixed sleeps). */
export async function waitFor<T>(fn: () => Promise<T | undefined | false>, o: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (o.timeoutMs ?? 10_000);
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${o.what ?? 'a condition'}`);
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 50));
  }
}
