// Repeated applies of one long-running caller: what the last apply verified stands in for the next one's reads while monitors vouch for it.
import type { ResolvedConfig } from '../config/resolved.js';
import type { LinkStates } from '../model/facts.js';
import type { NftObject } from '../model/json.js';
import type { Logger } from '../model/logger.js';
import type { Plan } from '../model/plan.js';
import type { WanCounters } from '../model/state.js';
import { nftMonitor, type ChangeMonitor, type MonitorStarter } from '../system/monitor.js';
import { NftCommits } from '../system/nft-commits.js';
import type { Runner } from '../system/runner.js';
import { apply, type ApplyResult } from './apply.js';
import { readWanCounters } from './counters.js';
import type { IpSnapshot } from './discover.js';

/** Hears every change of one kind while it listens (an `ip monitor`): the ChangeMonitor's counting side. */
export type ChangeWitness = Pick<ChangeMonitor, 'mark' | 'unchangedSince'>;

export interface ApplyCacheOptions {
  /** Every change to ip rules, routes and addresses (the caller's `ip monitor`); null: the ip state is read every time. */
  ip: ChangeWitness | null;
  /** Starts the commit monitor (default: `nft monitor`, other processes' commits); false: every apply reads the whole table back. */
  nftMonitor?: MonitorStarter | false | undefined;
  /** Where the apply lock and intent journal live (the daemon's --state-dir); default: this namespace's state directory. */
  stateDir?: string | undefined;
  /** Another process committed to nftables (it may have deleted or flushed the table): the daemon checks and repairs. */
  onForeignCommit?: () => void;
}

export class ApplyCache {
  /** The table as the last apply verified it: the next one is planned against it (no re-listing). */
  private known: NftObject[] | null = null;
  /** When `known` was verified, by `commits`' mark: null when nobody can vouch it is still the table. */
  private knownNft: number | null = null;
  /** The ip state the last apply left, and when (by the ip witness's mark): it stands in for the next read while nothing is heard. */
  private knownIp: { snapshot: IpSnapshot; mark: number } | null = null;
  private readonly commits: NftCommits | null;
  private lastPlan: Plan | null = null;
  /** Other processes' commits heard so far, and how many had been heard when the apply that verified `known` began. */
  private foreign = 0;
  private knownForeign = 0;

  constructor(
    private readonly run: Runner,
    private readonly log: Logger,
    private readonly o: ApplyCacheOptions,
  ) {
    const warn = (m: string) => {
      log.warn(m);
    };
    const onForeign = () => {
      this.foreign++;
      o.onForeignCommit?.();
    };
    this.commits = o.nftMonitor === false ? null : new NftCommits(o.nftMonitor ?? nftMonitor, warn, onForeign);
  }

  /** Starts listening for other processes' commits (before the first apply, so its listing can be vouched for). */
  start(): void {
    this.commits?.start();
  }

  stop(): void {
    this.commits?.stop();
  }

  /** The plan of the last successful apply (null before one). */
  get plan(): Plan | null {
    return this.lastPlan;
  }

  /** Another process changed the table (a try held the daemon's applies): what was verified last is history. */
  forget(): void {
    this.known = null;
    this.knownNft = null;
    this.knownIp = null;
  }

  /** One apply with what is still vouched for; a failed one forgets all, so the next reads the table and the ip state afresh. */
  async apply(config: ResolvedConfig, states: LinkStates): Promise<ApplyResult> {
    const { ip } = this.o;
    const commits = this.commits;
    const ipMark = ip?.mark() ?? null;
    const knownIp = this.knownIp && ip?.unchangedSince(this.knownIp.mark) ? this.knownIp.snapshot : null;
    const nftMark = commits?.mark() ?? null;
    const foreignAtStart = this.foreign;
    let result: ApplyResult;
    try {
      result = await apply(this.run, config, this.log, states, {
        // After another process's commit the table is read afresh: planned against what it was, a deleted or
        // flushed table would look up to date and never be put back.
        known: this.knownForeign === this.foreign ? this.known : null,
        knownIp,
        knownIsCurrent: commits?.unchangedSince(this.knownNft) ?? false,
        ...(commits ? { watch: commits.watch } : {}),
        ...(this.o.stateDir === undefined ? {} : { stateDir: this.o.stateDir }),
      });
    } catch (e) {
      this.forget();
      throw e;
    }
    this.known = result.listing;
    this.knownForeign = foreignAtStart;
    // No commit but its own since the apply began: its listing is the table now.
    this.knownNft = commits?.unchangedSince(nftMark) ? nftMark : null;
    // Heard nothing since the apply began: what it read (or reused) is the ip state now.
    this.knownIp = result.ip && ipMark !== null && ip?.unchangedSince(ipMark) ? { snapshot: result.ip, mark: ipMark } : null;
    this.lastPlan = result.plan;
    return result;
  }

  /** Per-WAN counters of the last plan's table (none before a plan). */
  counters(): Promise<Record<string, WanCounters>> {
    return this.lastPlan ? readWanCounters(this.run, this.lastPlan) : Promise.resolve({});
  }
}
