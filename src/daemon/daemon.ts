// The daemon: tracks every WAN, re-applies one verified transaction on each state change, then flushes and runs hooks.
import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { configOrThrow, loadConfig } from '../config/load.js';
import type { ResolvedConfig } from '../config/resolved.js';
import { ApplyCache } from '../engine/apply-cache.js';
import { removeOnExit } from '../engine/stop.js';
import { tryHold } from '../engine/trial.js';
import { renderMetrics } from '../metrics/prometheus.js';
import type { Plan } from '../model/plan.js';
import type { DaemonState } from '../model/state.js';
import type { Reason } from '../model/tracking.js';
import type { TrackEvent } from '../track/machine.js';
import { ApplyQueue } from './apply-queue.js';
import { serveControl, type ControlReply } from './control.js';
import { operatorCommands } from './operator.js';
import { runFlushes } from './flush.js';
import { HookQueue } from './hook-queue.js';
import { decidedAt, EMPTY_LEDGER, flushOrders, putBack, recordBetween, recordChange, settle, take, type Ledger, type Transition } from './ledger.js';
import { LinkWatcher } from './link-watcher.js';
import { MetricsOutlets } from './metrics.js';
import type { DaemonOptions } from './options.js';
import { ProbeLoops } from './probe-loops.js';
import { allowProbePairs } from '../system/probe-pairs.js';
import { CONTROL_SOCKET, previousState, stateSnapshot } from './state-file.js';
import { StateWriter } from './state-writer.js';
import { roundFailure, WanTrackers } from './trackers.js';
import { TryFollower } from './try-follower.js';

export type { DaemonOptions } from './options.js';
export type { MonitorStarter } from '../system/monitor.js';

export class Daemon {
  private config!: ResolvedConfig;
  private readonly trackers = new WanTrackers();
  /** Transitions owed their apply, flush and hooks: a pure value, replaced at each step. */
  private ledger: Ledger = EMPTY_LEDGER;
  private readonly links: LinkWatcher;
  private readonly engine: ApplyCache;
  private readonly queue: ApplyQueue;
  private readonly loops: ProbeLoops;
  private readonly hooks: HookQueue;
  private readonly writer: StateWriter;
  private readonly tries: TryFollower;
  private readonly outlets: MetricsOutlets;
  private readonly startedAt = new Date().toISOString();
  private lastApply: DaemonState['lastApply'] = null;
  private server: Server | null = null;
  private stopping = false;
  /** Why a repair was asked for since the last attempt began (null: none). */
  private repairWhy: string | null = null;
  private readonly stopped: Promise<void>;
  private resolveStopped!: () => void;

  constructor(private readonly o: DaemonOptions) {
    const { log, run } = o;
    const config = () => this.config;
    this.links = new LinkWatcher({
      run,
      monitor: o.monitor,
      pollS: o.linkPollS ?? 5,
      config,
      log,
      onCarrier: (name, up) => {
        for (const key of this.trackers.keysOf(name)) this.onEvent(key, { type: 'carrier', at: Date.now(), up });
      },
      onBypassChange: () => this.queue.request(),
      // The same timer notices a try decided while no apply was held for it.
      onPoll: () => void this.tries.follow(),
      onRoutingLoss: () => {
        this.repair('an ip rule or route was deleted');
      },
    });
    this.engine = new ApplyCache(run, log, {
      ip: this.links.ipChanges,
      nftMonitor: o.nftMonitor,
      // The apply lock and intent journal beside the daemon's state: CLI applies of the same directory wait for it.
      stateDir: o.stateDir,
      onForeignCommit: () => {
        this.repair('another process committed to nftables');
      },
    });
    this.queue = new ApplyQueue({
      attempt: () => this.attempt(),
      hold: () => tryHold(o.stateDir),
      released: async () => {
        // Another process changed the table meanwhile: what this daemon verified last is history.
        this.engine.forget();
        // Before anything is applied: after a confirm that is the tried config, not the one held in memory.
        await this.tries.follow();
      },
      failed: (e, attempt, waitMs) => {
        this.lastApply = { at: new Date().toISOString(), ok: false, error: e.message };
        log.error(`apply failed (attempt ${attempt}), retrying in ${waitMs / 1000} s: ${e.message}`);
        this.writer.schedule(true);
      },
      idle: () => {
        this.writer.schedule(true);
      },
      log,
    });
    this.loops = new ProbeLoops({
      prober: o.prober,
      tracker: (name) => this.trackers.tracker(name),
      onRound: (name, results) => {
        this.onEvent(name, { type: 'round', at: Date.now(), results });
      },
      log,
      allowPairs: (pairs, seconds, family) => allowProbePairs(run, this.config.globals.table, pairs, seconds, family),
    });
    this.hooks = new HookQueue({ config, log });
    this.writer = new StateWriter({ dir: o.stateDir, snapshot: (running) => this.snapshot(running), log });
    this.tries = new TryFollower({
      stateDir: o.stateDir,
      configPath: o.configPath,
      config,
      adopt: (c) => this.adopt(c).then(() => void this.queue.request()),
      log,
    });
    // Prometheus text for this moment: the live state plus counters read from the kernel.
    this.outlets = new MetricsOutlets(
      async () =>
        renderMetrics({ state: this.snapshot(), counters: await this.engine.counters(), stateChanges: this.trackers.stateChanges(), now: Date.now() }),
      log,
    );
    this.stopped = new Promise((r) => (this.resolveStopped = r));
  }

  /** Loads the config, installs the first plan and starts tracking; resolves once running. */
  async start(): Promise<void> {
    this.config = configOrThrow(await loadConfig(this.o.configPath));
    await this.tries.init();
    // A restarted daemon goes on from what the last one knew; a fresh start uses initialState.
    const previous = await previousState(this.o.stateDir, this.o.log);
    this.trackers.adopt(this.config, await this.links.read(), Date.now(), previous?.interfaces);
    await mkdir(this.o.stateDir, { recursive: true, mode: 0o755 });
    this.server = await serveControl(
      join(this.o.stateDir, CONTROL_SOCKET),
      operatorCommands({
        reload: () => this.reload(),
        trackers: this.trackers,
        // Both families of a WAN that tracks them apart.
        force: (name, down) => {
          for (const key of this.trackers.keysOf(name)) this.onEvent(key, { type: 'force', at: Date.now(), down });
        },
        applied: () => this.queue.requestAndWait(),
        log: this.o.log,
      }),
    );
    const live = Object.entries(this.trackers.live()).map(([n, s]) => `${n} ${s}`);
    this.o.log.info(`started (pid ${process.pid}, config ${this.o.configPath}, state ${this.o.stateDir}): ${live.join(', ')}`);
    this.refresh('start');
    this.engine.start();
    await this.queue.requestAndWait();
    this.links.start();
    this.loops.restart(this.trackers.tracked(this.config));
    await this.outlets.start(this.config.globals.metrics);
  }

  /** The daemon's state as the state file holds it: also the input of the metrics. */
  snapshot(running = !this.stopping): DaemonState {
    const { configPath } = this.o;
    return stateSnapshot({ running, configPath, startedAt: this.startedAt, interfaces: this.trackers.records(), lastApply: this.lastApply });
  }

  /** Resolves when the daemon has stopped (after SIGTERM/SIGINT or `shutdown()`). */
  whenStopped(): Promise<void> {
    return this.stopped;
  }

  /** SIGHUP: a valid new config replaces the old one; an invalid one is logged and ignored. */
  async reload(): Promise<ControlReply> {
    let config: ResolvedConfig;
    try {
      config = configOrThrow(await loadConfig(this.o.configPath));
    } catch (e) {
      const why = (e as Error).message;
      this.o.log.error(`reload: keeping the running config; ${why.replace(/\n/g, '; ')}`);
      return { ok: false, message: `config not reloaded, the running one stays: ${why}` };
    }
    await this.adopt(config);
    this.o.log.info(`reload: config ${this.o.configPath} loaded (${Object.keys(this.config.interfaces).length} interfaces)`);
    await this.queue.requestAndWait();
    return { ok: true, message: 'config reloaded and applied' };
  }

  /** Makes `config` the running one: trackers for new interfaces, none for removed ones, probe loops restarted. */
  private async adopt(config: ResolvedConfig): Promise<void> {
    const before = this.config;
    this.config = config;
    this.trackers.adopt(config, await this.links.forReload(before, this.trackers.startsTrackers(config)), Date.now());
    this.refresh('operator');
    this.loops.restart(this.trackers.tracked(config));
  }

  async shutdown(signal = 'request'): Promise<void> {
    if (this.stopping) return this.stopped;
    this.stopping = true;
    this.writer.stop();
    this.tries.stop();
    this.o.log.info(`stopping (${signal})`);
    this.loops.stop();
    this.links.stop();
    this.engine.stop();
    this.server?.close();
    this.outlets.stop();
    await this.queue.stop();
    await this.hooks.idle();
    if (this.o.stopOnExit) await removeOnExit(this.o.run, this.config.globals, this.o.log, this.o.stateDir);
    else this.o.log.info('rules stay installed (traffic keeps flowing with the last known states)');
    await this.writer.final();
    this.resolveStopped();
  }

  /** A probe round, a carrier reading or an operator command for one WAN's tracker (by key: NAME or NAME/ipv6). */
  private onEvent(name: string, e: TrackEvent): void {
    if (this.stopping) return;
    const r = this.trackers.step(name, e);
    if (!r) return;
    if (r.between) {
      const { ledger, due } = recordBetween(this.ledger, r.between);
      this.ledger = ledger;
      for (const tr of due) this.hooks.queue(tr);
    }
    if (e.type !== 'round' && r.after !== r.before) this.loops.wake(name);
    const failure = e.type === 'round' ? roundFailure(r.after) : null;
    if (failure !== null) this.o.log.debug(`${name}: ${failure}`);
    const changed = this.refresh(r.after.lastReason);
    this.writer.schedule(changed || e.type !== 'round');
  }

  /** Records the trackers' state changes in the ledger; any change queues an apply. */
  private refresh(reason: Reason): boolean {
    const { recorded, transitions } = this.trackers.refresh(reason, Date.now());
    const decided = performance.now();
    for (const tr of transitions) {
      this.o.log.info(`${tr.name}${tr.family ? ` (${tr.family})` : ''}: ${tr.from} -> ${tr.to} (${tr.detail})`);
      this.ledger = recordChange(this.ledger, { ...tr, decidedAt: decided });
    }
    if (recorded) this.queue.request();
    return recorded;
  }

  /**
   * Someone may have deleted nft-mwan's table (a firewall reload flushes the ruleset), an ip rule or a route: the
   * states as they are are applied again, which puts back whatever is missing. No tracker steps, so no WAN changes
   * state, no connection is flushed and no hook runs; an intact table and routing make it a no-op.
   */
  private repair(why: string): void {
    if (this.stopping) return;
    this.repairWhy ??= why;
    this.queue.request();
  }

  /** One apply of the states recorded now (the queue retries it when it throws), then what it owes. */
  private async attempt(): Promise<void> {
    const states = this.trackers.linkStates();
    const { ledger, taken } = take(this.ledger);
    this.ledger = ledger;
    const repairWhy = this.repairWhy;
    this.repairWhy = null;
    const t0 = performance.now();
    const decided = decidedAt(taken);
    let plan: Plan;
    try {
      const r = await this.engine.apply(this.config, states);
      plan = r.plan;
      if (repairWhy !== null && r.changed && taken.length === 0) {
        this.o.log.warn(`repaired nft-mwan's table and routing (${repairWhy}) in ${(performance.now() - t0).toFixed(0)} ms; tracking states untouched`);
      }
    } catch (e) {
      // Nothing changed (apply rolls back); the transitions are still owed their flush and hooks.
      this.ledger = putBack(this.ledger, taken);
      throw e;
    }
    // The WANs' marks and devices are known (or changed): continuous probes start or follow.
    this.loops.follow(plan.interfaces);
    this.o.log.info(
      `states applied in ${(performance.now() - t0).toFixed(0)} ms${decided === null ? '' : `, ${(performance.now() - decided).toFixed(1)} ms after the state change`}: ${this.trackers.summary()}`,
    );
    await this.afterApply(taken, plan);
    // Reported once the state change is complete: rules in place, the failed WAN's connections flushed.
    this.lastApply = { at: new Date().toISOString(), ok: true, error: null };
  }

  /** Only now are the new rules in place: delete the changed WANs' connections, then tell the hooks. */
  private async afterApply(taken: Transition[], plan: Plan): Promise<void> {
    const orders = flushOrders(taken, {
      marks: Object.fromEntries(plan.interfaces.map((i) => [i.name, i.mark])),
      states: this.trackers.current(),
      flushConntrack: Object.fromEntries(Object.entries(this.config.interfaces).map(([n, i]) => [n, i.flushConntrack])),
    });
    await runFlushes(this.o.run, orders, plan.markMask, (name) => this.trackers.state(name), this.o.log);
    const { ledger, hooks } = settle(this.ledger, taken);
    this.ledger = ledger;
    for (const tr of hooks) this.hooks.queue(tr);
  }
}
