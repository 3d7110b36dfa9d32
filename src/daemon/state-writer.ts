// The state writer: the state file kept fresh for `status` and a restarted daemon, one write at a time, the last one on stop.
import type { DaemonState } from '../model/state.js';
import type { Logger } from '../model/logger.js';
import { writeState } from './state-file.js';

export interface StateWriterOptions {
  dir: string;
  /** The state to write now (`running` false for the last write). */
  snapshot(running: boolean): DaemonState;
  log: Pick<Logger, 'warn'> & Partial<Pick<Logger, 'info'>>;
  write?: (dir: string, state: DaemonState) => Promise<void>;
  /** Delays of an urgent write (a state change, an apply) and of a routine one (probe rounds only). */
  urgentMs?: number;
  routineMs?: number;
}

export class StateWriter {
  private timer: NodeJS.Timeout | null = null;
  private urgent = false;
  private writes: Promise<void> = Promise.resolve();
  private stopped = false;
  /** The last write's failure, said once: a full filesystem would otherwise log a line per write. */
  private failing: string | null = null;

  constructor(private readonly o: StateWriterOptions) {}

  /**
   * Soon after a state change or an apply; otherwise (probe rounds only) at most once a second: the file
   * stays fresh without costing the daemon a write per round.
   */
  schedule(urgent = false): void {
    if (this.stopped) return;
    if (this.timer) {
      if (!urgent || this.urgent) return;
      clearTimeout(this.timer);
    }
    this.urgent = urgent;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        void this.writeNow(true);
      },
      urgent ? (this.o.urgentMs ?? 50) : (this.o.routineMs ?? 1_000),
    );
  }

  /** No write is scheduled any more (the daemon is stopping); one already scheduled still happens before `final`. */
  stop(): void {
    this.stopped = true;
  }

  /** The last write, saying the daemon is not running: made after any still in flight. */
  final(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    return this.writeNow(false);
  }

  /** Writes go one after another, so the last one written is the last one made (shutdown's `running: false`). */
  private writeNow(running: boolean): Promise<void> {
    this.writes = this.writes.then(() => this.writeOnce(running));
    return this.writes;
  }

  private async writeOnce(running: boolean): Promise<void> {
    try {
      await (this.o.write ?? writeState)(this.o.dir, this.o.snapshot(running));
      if (this.failing !== null) this.o.log.info?.(`the state file in ${this.o.dir} is written again`);
      this.failing = null;
    } catch (e) {
      const why = (e as Error).message;
      if (why !== this.failing)
        this.o.log.warn(`cannot write the state file in ${this.o.dir}: ${why}${this.failing === null ? '' : ' (repeats are not logged)'}`);
      this.failing = why;
    }
  }
}
