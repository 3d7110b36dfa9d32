// Long-running `ip monitor` and `nft monitor` processes: the lines they print, and when they surely listen.
import { execa } from 'execa';

export interface MonitorListener {
  /** One line of what the monitor reports. */
  line(text: string): void;
  /** Something on stderr (a netlink receive error: events lost): what it would have reported may be missed. */
  trouble(text: string): void;
}

/** `ready` resolves once it surely hears every change (it has subscribed), `done` with why it ended. */
export interface RunningMonitor {
  ready: Promise<void>;
  done: Promise<string>;
  kill(): void;
}

export type MonitorStarter = (listener: MonitorListener) => RunningMonitor;

/** A monitor command whose stdout is one report per line. */
export function commandMonitor(file: string, args: readonly string[]): MonitorStarter {
  return (listener) => {
    const child = execa(file, args, { reject: false, buffer: false, stdin: 'ignore', env: { LC_ALL: 'C' } });
    let partial = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) listener.line(l);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      listener.trouble(String(chunk));
    });
    // Both subscribe right after they start and say nothing when they have: a second is far more than it takes.
    const ready = new Promise<void>((resolve) => child.once('spawn', () => setTimeout(resolve, 1_000).unref()));
    return { ready, done: child.then((r) => String(r.exitCode ?? r.signal)), kill: () => child.kill() };
  };
}

/** Every change to links, addresses, routes (all tables) and ip rules, one line each. */
export const ipMonitor = commandMonitor('ip', ['-o', 'monitor', 'link', 'address', 'route', 'rule']);

/** Every nftables change, each commit ending with "# new generation N by process PID (COMM)". */
export const nftMonitor = commandMonitor('nft', ['monitor']);

/**
 * Keeps a monitor running (restarted a second after it exits) and counts what it reports: an apply's read
 * stands in for the next one's only while no change has been counted since, the monitor listening all along.
 */
export class ChangeMonitor {
  /** Bumped by every change, and whenever the monitor starts or stops listening. */
  private epoch = 0;
  private listening = false;
  private stopped = false;
  private running: RunningMonitor | null = null;

  constructor(
    private readonly name: string,
    private readonly starter: MonitorStarter,
    private readonly warn: (m: string) => void,
    /** Each change as it is heard: the line that reported it, or null when events may have been lost. */
    private readonly onChange: (line: string | null) => void = () => undefined,
  ) {}

  /** Whether a line reports a change: every line, unless a monitor knows some are not (nft's own commits). */
  protected isChange(_line: string): boolean {
    return true;
  }

  start(): void {
    if (this.stopped) return;
    const child = this.starter({
      line: (text) => {
        if (this.isChange(text)) this.changed(text);
      },
      trouble: () => {
        this.changed(null);
      },
    });
    this.running = child;
    void child.ready.then(() => {
      if (this.running !== child) return;
      // What was read before it listened may have changed unheard.
      this.epoch++;
      this.listening = true;
    });
    void child.done.then((why) => {
      // Changes while it is down go unheard: nothing read before is trusted again.
      this.running = null;
      this.listening = false;
      this.epoch++;
      if (this.stopped) return;
      this.warn(`${this.name} exited (${why}); restarting it`);
      setTimeout(() => {
        this.start();
      }, 1_000).unref();
    });
  }

  stop(): void {
    this.stopped = true;
    this.running?.kill();
  }

  /** A change: a line the monitor reported, or (null) one seen some other way (a poll, lost events). */
  changed(line: string | null = null): void {
    this.epoch++;
    this.onChange(line);
  }

  get hears(): boolean {
    return this.listening;
  }

  /** Now, to compare with later; null when the monitor is not listening (nothing can be vouched for). */
  mark(): number | null {
    return this.listening ? this.epoch : null;
  }

  /** No change since `mark`, and the monitor has listened all along. */
  unchangedSince(mark: number | null): boolean {
    return mark !== null && this.listening && mark === this.epoch;
  }
}
