// Tells this process's own nft commits from everyone else's, by the pid on `nft monitor`'s generation lines.
import { existsSync } from 'node:fs';
import { ChangeMonitor, type MonitorStarter } from './monitor.js';
import type { CommitWatch } from './nft.js';

/** Own transactions whose commit may still be reported; an older one reported late only costs a full read. */
const OWN_KEPT = 64;

/** `nft monitor` counting only other processes' commits as changes. */
export class NftCommits extends ChangeMonitor {
  /** Own transactions by pid, oldest first: in process (libnftables) every commit of this process has its pid. */
  private readonly own = new Map<number, (() => void)[]>();
  private ownCount = 0;

  /** Whether the transaction being reported has so far only added or deleted set elements; and the last reported one's verdict. */
  private readonly tx: { elementsOnly: boolean; events: number; lastElementsOnly: boolean };

  /**
   * `onForeign`: another process committed something other than set elements (or events were lost), so the table
   * may no longer be what was verified. Elements come and go at run time (`nft-mwan set`, dnsmasq's nftset) and
   * are kept by every apply: a busy resolver must not make the daemon re-read its table at each lookup.
   */
  constructor(
    starter: MonitorStarter,
    warn: (m: string) => void,
    onForeign: () => void = () => undefined,
    private readonly isOwnThread: (tid: number) => boolean = (tid) => Number.isInteger(tid) && tid > 0 && existsSync(`/proc/self/task/${tid}`),
  ) {
    const tx = { elementsOnly: true, events: 0, lastElementsOnly: true };
    super('nft monitor', starter, warn, (line) => {
      if (line === null || !tx.lastElementsOnly) onForeign();
    });
    this.tx = tx;
  }

  /** For apply: the commit of nft process `pid`, once the monitor reports it. */
  readonly watch: CommitWatch = (pid) => {
    if (!this.hears) return null;
    if (this.ownCount >= OWN_KEPT) this.take(this.own.keys().next().value as number);
    return new Promise<void>((resolve) => {
      this.own.set(pid, [...(this.own.get(pid) ?? []), resolve]);
      this.ownCount++;
    });
  };

  /** A generation line not of one of this process's own transactions (event lines come before it). */
  protected override isChange(line: string): boolean {
    if (!line.startsWith('# new generation')) {
      // An event line of the transaction whose generation line follows; a blank line separates nothing.
      if (line.trim() === '') return false;
      this.tx.events++;
      if (!/^(add|delete) element /.test(line)) this.tx.elementsOnly = false;
      return false;
    }
    // A commit reported without its events is not known to be harmless.
    this.tx.lastElementsOnly = this.tx.events > 0 && this.tx.elementsOnly;
    this.tx.elementsOnly = true;
    this.tx.events = 0;
    const reported = Number(/ by process (\d+)/.exec(line)?.[1] ?? Number.NaN);
    // In process, the kernel reports the thread that committed (libnftables runs on the FFI's worker thread): a
    // thread of this process is this process.
    const pid = reported !== process.pid && this.isOwnThread(reported) ? process.pid : reported;
    const seen = this.take(pid);
    seen?.();
    // In process every commit of this process is its own, watched or not: the daemon's probe-pair updates (elements
    // only, never watched) must not drop its verified listing, nor take the watch of an apply committed after them.
    return seen === undefined && pid !== process.pid;
  }

  /** The oldest own transaction of `pid` still waiting for its commit, now forgotten. */
  private take(pid: number): (() => void) | undefined {
    const waiting = this.own.get(pid);
    const first = waiting?.shift();
    if (first === undefined) return undefined;
    this.ownCount--;
    if (waiting?.length === 0) this.own.delete(pid);
    return first;
  }
}
