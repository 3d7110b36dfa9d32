// Tells this process's own nft commits from everyone else's, by the pid on `nft monitor`'s generation lines.
import { ChangeMonitor, type MonitorStarter } from './monitor.js';
import type { CommitWatch } from './nft.js';

/** Own transactions whose commit may still be reported; an older one reported late only costs a full read. */
const OWN_KEPT = 64;

export class NftCommits {
  private readonly own = new Map<number, () => void>();
  private readonly changes: ChangeMonitor;

  constructor(starter: MonitorStarter, warn: (m: string) => void) {
    this.changes = new ChangeMonitor('nft monitor', starter, warn, (line) => this.othersCommit(line));
  }

  start(): void {
    this.changes.start();
  }

  stop(): void {
    this.changes.stop();
  }

  /** Now, to compare with later; null when the monitor is not listening. */
  mark(): number | null {
    return this.changes.mark();
  }

  /** Nobody but this process has committed since `mark`, and the monitor has listened all along. */
  unchangedSince(mark: number | null): boolean {
    return this.changes.unchangedSince(mark);
  }

  /** For apply: the commit of nft process `pid`, once the monitor reports it. */
  readonly watch: CommitWatch = (pid) => {
    if (!this.changes.hears) return null;
    if (this.own.size >= OWN_KEPT) this.own.delete(this.own.keys().next().value as number);
    return new Promise<void>((resolve) => this.own.set(pid, resolve));
  };

  /** A generation line not of one of this process's own transactions (event lines come before it). */
  private othersCommit(line: string): boolean {
    if (!line.startsWith('# new generation')) return false;
    const pid = Number(/ by process (\d+)/.exec(line)?.[1] ?? Number.NaN);
    const seen = this.own.get(pid);
    if (seen === undefined) return true;
    this.own.delete(pid);
    seen();
    return false;
  }
}
