// Tells this process's own nft commits from everyone else's, by the pid on `nft monitor`'s generation lines.
import { ChangeMonitor, type MonitorStarter } from './monitor.js';
import type { CommitWatch } from './nft.js';

/** Own transactions whose commit may still be reported; an older one reported late only costs a full read. */
const OWN_KEPT = 64;

/** `nft monitor` counting only other processes' commits as changes. */
export class NftCommits extends ChangeMonitor {
  private readonly own = new Map<number, () => void>();

  /** `onForeign`: another process committed (or events were lost), so the table may no longer be what was verified. */
  constructor(starter: MonitorStarter, warn: (m: string) => void, onForeign: () => void = () => undefined) {
    super('nft monitor', starter, warn, onForeign);
  }

  /** For apply: the commit of nft process `pid`, once the monitor reports it. */
  readonly watch: CommitWatch = (pid) => {
    if (!this.hears) return null;
    if (this.own.size >= OWN_KEPT) this.own.delete(this.own.keys().next().value as number);
    return new Promise<void>((resolve) => this.own.set(pid, resolve));
  };

  /** A generation line not of one of this process's own transactions (event lines come before it). */
  protected override isChange(line: string): boolean {
    if (!line.startsWith('# new generation')) return false;
    const pid = Number(/ by process (\d+)/.exec(line)?.[1] ?? Number.NaN);
    const seen = this.own.get(pid);
    if (seen === undefined) return true;
    this.own.delete(pid);
    seen();
    return false;
  }
}
