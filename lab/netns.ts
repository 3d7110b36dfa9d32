// A network-namespace lab: uniquely named namespaces, commands and background processes inside them, and an undo stack that removes it all.
import { execa, execaSync, type ResultPromise } from 'execa';
import { randomInt } from 'node:crypto';
import { MwanError } from '../src/model/errors.js';

export interface ExecOptions {
  /** Written to the command's stdin (e.g. an nft ruleset for `nft -f -`). */
  input?: string;
  timeoutMs?: number;
  /** Throw on a non-zero exit (default true). Timeouts always throw. */
  reject?: boolean;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface ExitInfo {
  /** null when the process was ended by a signal. */
  exitCode: number | null;
  signal: string | null;
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** What is awaited, for the timeout message. */
  what?: string;
}

const DEFAULT_EXEC_TIMEOUT_MS = 10_000;
const KILL_GRACE_MS = 1_000;
/** IFNAMSIZ minus the terminating NUL: the kernel refuses longer device names. */
const MAX_DEVICE_NAME = 15;
const SHORT_NAME = /^[a-z][a-z0-9]{0,9}$/;

/** A command as it would be typed, for messages only: it is never given to a shell. */
export function displayCommand(file: string, args: readonly string[]): string {
  return [file, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `fn` until it returns something other than false, null or undefined, and returns that.
 * A throw counts as "not yet"; the last one is reported if the deadline passes.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  { timeoutMs, intervalMs = 50, what = 'a condition' }: WaitOptions,
): Promise<Exclude<T, false | null | undefined>> {
  const deadline = Date.now() + timeoutMs;
  let last: { error: unknown } | { value: unknown } = { value: undefined };
  for (;;) {
    try {
      const value = await fn();
      if (value !== false && value !== null && value !== undefined) return value as Exclude<T, false | null | undefined>;
      last = { value };
    } catch (error) {
      last = { error };
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    await sleep(Math.min(intervalMs, remaining));
  }
  const detail =
    'error' in last ? `last error: ${last.error instanceof Error ? last.error.message : String(last.error)}` : `last result: ${JSON.stringify(last.value)}`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${detail}`, {
    cause: 'error' in last ? last.error : undefined,
  });
}

export type LineMatch = string | RegExp | ((line: string) => boolean);

function matcher(match: LineMatch): (line: string) => boolean {
  if (typeof match === 'string') return (line) => line.includes(match);
  if (match instanceof RegExp) return (line) => match.test(line);
  return match;
}

interface LineWaiter {
  test: (line: string) => boolean;
  resolve: (line: string) => void;
  reject: (error: Error) => void;
}

/** How every background process is started; the handle's type follows from it. */
const SPAWN_OPTIONS = { reject: false, buffer: false, stdin: 'ignore', forceKillAfterDelay: false } as const;
type Spawned = ResultPromise<typeof SPAWN_OPTIONS>;

/** A process running in the background inside one lab namespace. */
export class BackgroundProcess {
  readonly pid: number;
  readonly command: string;
  /** Resolves when the process has exited, however it ended. */
  readonly exited: Promise<ExitInfo>;
  private readonly lineList: string[] = [];
  private partial = '';
  private stderrText = '';
  private exitInfo: ExitInfo | undefined;
  private waiters = new Set<LineWaiter>();

  constructor(
    private readonly child: Spawned,
    readonly ns: string,
    file: string,
    args: readonly string[],
  ) {
    this.command = displayCommand(file, args);
    if (child.pid === undefined) {
      throw new MwanError({ code: 'COMMAND_MISSING', summary: `start a background process in namespace ${ns}`, command: this.command });
    }
    this.pid = child.pid;
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => this.onStdout(chunk));
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => (this.stderrText += chunk));
    this.exited = child.then((result) => {
      if (this.partial) this.pushLine(this.partial);
      this.partial = '';
      this.exitInfo = { exitCode: result.exitCode ?? null, signal: result.signal ?? null };
      for (const w of this.waiters) w.reject(this.exitedError('a matching line'));
      this.waiters.clear();
      return this.exitInfo;
    });
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** Complete stdout lines so far. */
  lines(): readonly string[] {
    return this.lineList;
  }

  stdout(): string {
    return this.lineList.join('\n') + (this.partial ? `\n${this.partial}` : '');
  }

  stderr(): string {
    return this.stderrText;
  }

  /**
   * Resolves with the first stdout line (from index `since`, default 0, so lines already printed count)
   * that matches; rejects at the deadline or if the process exits first.
   */
  waitForLine(match: LineMatch, { timeoutMs, since = 0 }: { timeoutMs: number; since?: number }): Promise<string> {
    const test = matcher(match);
    const seen = this.lineList.slice(since).find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    if (!this.running) return Promise.reject(this.exitedError(String(match)));
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(
          new Error(
            `${this.command} in ${this.ns}: no line matching ${String(match)} within ${timeoutMs} ms\n` +
              `stdout:\n${this.stdout()}\nstderr:\n${this.stderrText}`,
          ),
        );
      }, timeoutMs);
      const waiter: LineWaiter = {
        test,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.waiters.add(waiter);
    });
  }

  /** Sends one signal to the process, by its pid. */
  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL if it is still there after the grace period. */
  async kill(graceMs = KILL_GRACE_MS): Promise<ExitInfo> {
    if (this.exitInfo) return this.exitInfo;
    this.child.kill('SIGTERM');
    const ended = await Promise.race([this.exited, sleep(graceMs).then(() => undefined)]);
    if (ended) return ended;
    this.child.kill('SIGKILL');
    return this.exited;
  }

  private onStdout(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.pushLine(line);
  }

  private pushLine(line: string): void {
    this.lineList.push(line);
    for (const w of this.waiters) {
      if (w.test(line)) {
        this.waiters.delete(w);
        w.resolve(line);
      }
    }
  }

  private exitedError(what: string): Error {
    const how = this.exitInfo?.signal ? `signal ${this.exitInfo.signal}` : `exit code ${this.exitInfo?.exitCode}`;
    return new Error(`${this.command} in ${this.ns} ended (${how}) before printing ${what}\n` + `stdout:\n${this.stdout()}\nstderr:\n${this.stderrText}`);
  }
}

interface Undo {
  what: string;
  run: () => unknown;
}

/** Labs not yet torn down, so a worker that exits mid-test still removes its namespaces. */
const liveLabs = new Set<Lab>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const lab of liveLabs) lab.teardownSync();
  });
  // Killed by a signal, a process skips its exit handlers: Ctrl-C on a benchmark left its namespaces.
  // Exiting as the signal would, through them, removes them.
  for (const [signal, n] of [
    ['SIGINT', 2],
    ['SIGTERM', 15],
  ] as const) {
    process.once(signal, () => {
      // A test runner ends its workers with SIGTERM once their files are done, the labs already torn down:
      // nothing to say then. Only a signal that interrupts a lab is news.
      if (liveLabs.size > 0) process.stderr.write(`lab: ${signal} arrived: removing the namespaces of ${liveLabs.size} lab(s) still up\n`);
      process.exit(128 + n);
    });
  }
}

/** Namespaces as `ip netns list` names them (it prints "name (id: N)"). */
export function listNamespaces(): string[] {
  const { stdout } = execaSync('ip', ['netns', 'list'], { reject: false, timeout: 5_000 });
  return String(stdout ?? '')
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean);
}

/** Eight characters: namespaces of concurrent runs never collide, and stay short in `ip netns list`. */
export function newPrefix(): string {
  return `nm${randomInt(36 ** 6)
    .toString(36)
    .padStart(6, '0')}`;
}

const DUMP_COMMANDS: readonly (readonly [string, readonly string[]])[] = [
  ['nft', ['list', 'ruleset']],
  ['ip', ['-d', 'rule']],
  ['ip', ['-6', 'rule']],
  ['ip', ['route', 'show', 'table', 'all']],
  ['ip', ['-6', 'route', 'show', 'table', 'all']],
  ['ip', ['addr']],
  ['conntrack', ['-L']],
];

/**
 * One lab: namespaces named `${prefix}-${name}`, addressed by their short name.
 * Every step that outlives its namespace (the namespace itself, a background process, anything
 * the caller registers with `defer`) has an undo; state inside a namespace (links, addresses,
 * routes, rulesets, sysctls) dies with it.
 */
export class Lab {
  readonly prefix: string;
  private readonly names = new Map<string, string>();
  private readonly undos: Undo[] = [];
  private readonly processes = new Set<BackgroundProcess>();
  private tornDown = false;

  constructor(options: { prefix?: string } = {}) {
    this.prefix = options.prefix ?? newPrefix();
    liveLabs.add(this);
    installExitHook();
  }

  /** The full name of a namespace of this lab; throws for any other, so nothing runs in the host by mistake. */
  nsName(name: string): string {
    const full = this.names.get(name);
    if (full === undefined) throw new Error(`lab ${this.prefix} has no namespace "${name}"`);
    return full;
  }

  /** Full names of the namespaces created so far, in creation order. */
  namespaces(): string[] {
    return [...this.names.values()];
  }

  /** Creates `${prefix}-${name}` with its loopback up. */
  async addNamespace(name: string): Promise<string> {
    if (this.tornDown) throw new Error(`lab ${this.prefix} is torn down`);
    if (!SHORT_NAME.test(name)) throw new Error(`namespace name "${name}" must match ${SHORT_NAME}`);
    if (this.names.has(name)) throw new Error(`lab ${this.prefix} already has namespace "${name}"`);
    const full = `${this.prefix}-${name}`;
    await this.host(['netns', 'add', full], `create namespace ${full}`);
    this.names.set(name, full);
    this.defer(`delete namespace ${full}`, () => this.host(['netns', 'del', full], `delete namespace ${full}`));
    await this.ip(name, ['link', 'set', 'dev', 'lo', 'up']);
    return full;
  }

  /** Registers an undo, run last-in-first-out by teardown(). */
  defer(what: string, run: () => unknown): void {
    this.undos.push({ what, run });
  }

  /** `ip -n NS ...`: ip enters the namespace itself, cheaper than `ip netns exec`. */
  async ip(ns: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return this.run('ip', ['-n', this.nsName(ns), ...args], `ip in namespace ${ns}`, options);
  }

  /** Runs `file args...` inside a namespace (no shell) and waits for it. */
  async exec(ns: string, file: string, args: readonly string[] = [], options: ExecOptions = {}): Promise<ExecResult> {
    return this.run('ip', ['netns', 'exec', this.nsName(ns), file, ...args], `run ${file} in namespace ${ns}`, options);
  }

  /** Loads an nft ruleset (text) into a namespace, atomically as nft -f does. */
  async nft(ns: string, ruleset: string): Promise<ExecResult> {
    return this.exec(ns, 'nft', ['-f', '-'], { input: ruleset });
  }

  /** Sets sysctls inside a namespace: /proc/sys/net belongs to the namespace of whoever writes it. */
  async sysctl(ns: string, settings: Record<string, string | number>): Promise<ExecResult> {
    const args = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
    return this.exec(ns, 'sysctl', ['-q', '-w', ...args]);
  }

  /** A veth pair born with one end in each namespace: no end ever exists in the host namespace. */
  async addVeth(a: { ns: string; dev: string }, b: { ns: string; dev: string }): Promise<void> {
    for (const dev of [a.dev, b.dev]) {
      if (dev.length > MAX_DEVICE_NAME) throw new Error(`device name "${dev}" is longer than ${MAX_DEVICE_NAME}`);
    }
    await this.ip(a.ns, ['link', 'add', 'name', a.dev, 'type', 'veth', 'peer', 'name', b.dev, 'netns', this.nsName(b.ns)]);
  }

  /** Starts a background process in a namespace; teardown kills it by pid before deleting namespaces. */
  spawn(ns: string, file: string, args: readonly string[] = []): BackgroundProcess {
    if (this.tornDown) throw new Error(`lab ${this.prefix} is torn down`);
    const full = this.nsName(ns);
    // `ip netns exec` execs the command in place (no fork), so this pid is the command's own.
    const child = execa('ip', ['netns', 'exec', full, file, ...args], SPAWN_OPTIONS);
    const proc = new BackgroundProcess(child, ns, file, args);
    this.processes.add(proc);
    void proc.exited.then(() => this.processes.delete(proc));
    this.defer(`kill ${proc.command} (pid ${proc.pid}) in ${ns}`, () => proc.kill());
    return proc;
  }

  /** Starts a Node script (an agent) in the background with this very Node binary. */
  node(ns: string, scriptPath: string, args: readonly string[] = []): BackgroundProcess {
    return this.spawn(ns, process.execPath, [scriptPath, ...args]);
  }

  /** Runs a Node script to completion inside a namespace. */
  async runNode(ns: string, scriptPath: string, args: readonly string[] = [], options: ExecOptions = {}): Promise<ExecResult> {
    return this.exec(ns, process.execPath, [scriptPath, ...args], options);
  }

  waitFor<T>(fn: () => T | Promise<T>, options: WaitOptions): Promise<Exclude<T, false | null | undefined>> {
    return waitFor(fn, options);
  }

  /** Everything needed to understand a failure: rulesets, rules, routes, addresses, conntrack, process output. */
  async dump(): Promise<string> {
    const perNamespace = await Promise.all(
      [...this.names].map(async ([name, full]) => {
        const out: string[] = [];
        for (const [file, args] of DUMP_COMMANDS) {
          out.push(`=== ${full}: ${displayCommand(file, args)} ===`);
          try {
            const r = await this.exec(name, file, args, { reject: false, timeoutMs: 5_000 });
            if (r.stdout.trim()) out.push(r.stdout.trimEnd());
            // conntrack prints its "N flow entries" summary on stderr even when it succeeds.
            if (r.stderr.trim()) out.push(`[stderr${r.exitCode ? `, exit ${r.exitCode}` : ''}] ${r.stderr.trimEnd()}`);
          } catch (error) {
            out.push(`[failed] ${error instanceof Error ? error.message : String(error)}`);
          }
        }
        return out;
      }),
    );
    const out = [`##### lab ${this.prefix} #####`, ...perNamespace.flat()];
    for (const p of this.processes) {
      out.push(`=== process ${p.pid} in ${p.ns}: ${p.command} ===`, p.stdout().slice(-4000));
      if (p.stderr().trim()) out.push(`[stderr] ${p.stderr().slice(-4000)}`);
    }
    return out.join('\n');
  }

  /**
   * Kills every background process (a process left inside keeps its namespace alive after the
   * name is gone), runs the undo stack last-in-first-out past any error, and makes sure every
   * namespace is deleted. Throws an AggregateError afterwards if anything failed. Idempotent.
   */
  async teardown(): Promise<void> {
    if (this.tornDown) return;
    this.tornDown = true;
    const errors: Error[] = [];
    const failed = (what: string, error: unknown) =>
      errors.push(new Error(`${what}: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));

    await Promise.all([...this.processes].map((p) => p.kill().catch((e: unknown) => failed(`kill pid ${p.pid}`, e))));
    for (let undo = this.undos.pop(); undo; undo = this.undos.pop()) {
      try {
        await undo.run();
      } catch (error) {
        failed(undo.what, error);
      }
    }
    const left = new Set(this.namespaces());
    for (const full of listNamespaces().filter((n) => left.has(n))) {
      const r = await execa('ip', ['netns', 'del', full], { reject: false, timeout: 5_000 });
      failed(`namespace ${full} survived its undo`, r.exitCode === 0 ? 'deleted on second attempt' : r.stderr);
    }
    liveLabs.delete(this);
    if (errors.length > 0) {
      throw new AggregateError(errors, `lab ${this.prefix} teardown: ${errors.map((e) => e.message).join('; ')}`);
    }
  }

  /** Last resort from the process 'exit' hook, where nothing asynchronous runs any more. */
  teardownSync(): void {
    for (const p of this.processes) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const full of this.namespaces().reverse()) {
      execaSync('ip', ['netns', 'del', full], { reject: false, timeout: 5_000 });
    }
    this.tornDown = true;
    liveLabs.delete(this);
  }

  /** Runs a host `ip` command that only names lab namespaces (netns add/del, ip -n). */
  private async host(args: readonly string[], summary: string): Promise<ExecResult> {
    return this.run('ip', args, summary, {});
  }

  private async run(file: string, args: readonly string[], summary: string, options: ExecOptions): Promise<ExecResult> {
    const command = displayCommand(file, args);
    const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    const r = await execa(file, args, {
      reject: false,
      timeout: timeoutMs,
      stripFinalNewline: false,
      ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
    });
    const result = { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
    if (r.timedOut) {
      throw new MwanError({ code: 'COMMAND_TIMEOUT', summary: `${summary}: no answer within ${timeoutMs} ms`, command, stderr: result.stderr });
    }
    if (r.failed && r.exitCode === undefined) {
      // Not started at all (ENOENT) or killed by a signal: there is no exit code to judge.
      throw new MwanError({ code: 'COMMAND_FAILED', summary, command, stderr: result.stderr || r.message, cause: r.cause });
    }
    if (result.exitCode !== 0 && options.reject !== false) {
      throw new MwanError({ code: 'COMMAND_FAILED', summary, command, exitCode: result.exitCode, stderr: result.stderr });
    }
    return result;
  }
}

/**
 * Runs `fn` with a fresh lab and always tears it down. If `fn` throws, the lab's dump is appended
 * to the error's message (before teardown, while there is still something to dump).
 */
export async function withLab<T>(fn: (lab: Lab) => Promise<T>, options: { prefix?: string } = {}): Promise<T> {
  const lab = new Lab(options);
  let result: T;
  try {
    result = await fn(lab);
  } catch (error) {
    const err = error instanceof Error ? error : new Error(String(error));
    err.message += `\n\n${await lab.dump().catch((e: unknown) => `(dump failed: ${String(e)})`)}`;
    // The test's own failure is the news; a teardown problem on top of it is only appended.
    await lab.teardown().catch((e: unknown) => (err.message += `\n\nteardown also failed: ${String(e)}`));
    throw err;
  }
  await lab.teardown();
  return result;
}
