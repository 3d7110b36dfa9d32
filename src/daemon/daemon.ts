// The daemon: tracks every WAN, re-applies one verified transaction on each state change, then flushes and runs hooks.
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Server } from 'node:net';
import type { LinkState } from '../model/facts.js';
import { configOrThrow, loadConfig } from '../config/load.js';
import { apply } from '../engine/apply.js';
import type { IpSnapshot } from '../engine/discover.js';
import { stop as stopEngine } from '../engine/stop.js';
import { readWanCounters } from '../engine/counters.js';
import { renderMetrics } from '../metrics/prometheus.js';
import { serveMetrics, writeTextfile } from '../metrics/serve.js';
import type { Plan } from '../model/plan.js';
import type { ResolvedConfig, ResolvedInterface, TrackSettings } from '../config/resolved.js';
import { flushByMark, flushUnanswered, UDP_DELETE_LIMIT } from '../system/conntrack.js';
import { readLinks, readMainRoutes } from '../system/ip.js';
import { ChangeMonitor, ipMonitor, nftMonitor, type MonitorStarter } from '../system/monitor.js';
import { NftCommits } from '../system/nft-commits.js';
import type { Runner } from '../system/runner.js';
import { initialTracker, linkState, nextInterval, progress, step, type TrackEvent, type Tracker } from '../track/machine.js';
import { type Reason } from '../model/tracking.js';
import { runRound, type Egress, type Prober } from '../track/probes.js';
import { PingSession, type EchoResult } from '../track/ping-session.js';
import { serveControl, type ControlReply, type ControlRequest } from './control.js';
import { hookAction, runHooks, runMwan3User, type HookEvent } from './hooks.js';
import { CONTROL_SOCKET, interfaceRecord, readState, writeState } from './state-file.js';
import { type DaemonState } from '../model/state.js';
import { configHash, readTryOutcome, tryHold } from '../engine/trial.js';
import type { NftObject } from '../model/json.js';
import type { Logger } from '../model/logger.js';

export interface DaemonOptions {
  configPath: string;
  stateDir: string;
  run: Runner;
  log: Logger;
  /** Replaceable in unit tests; the real one pings and connects. */
  prober?: Prober;
  /** Remove nft-mwan's table, rules and routes on exit (default: leave them, so forwarding goes on). */
  stopOnExit?: boolean;
  /** Seconds between link polls, on top of `ip monitor` events. */
  linkPollS?: number;
  /**
   * Starts the change monitor (default: `ip -o monitor link address route rule`); unit tests pass a stand-in,
   * or false for none (they change links through the runner, read by the polls).
   */
  monitor?: MonitorStarter | false;
  /**
   * Starts the commit monitor (default: `nft monitor`), or false for none: then every apply reads the whole
   * table back after its transaction, once nft has exited.
   */
  nftMonitor?: MonitorStarter | false;
}

export type { MonitorStarter } from '../system/monitor.js';

interface Transition {
  name: string;
  from: LinkState;
  to: LinkState;
  reason: Reason;
  detail: string;
  /** A tracker-only step (no state change, no apply): only its hook is owed. */
  action?: 'connecting' | 'disconnecting';
}

const BACKOFF_MS = [250, 500, 1_000, 2_000, 5_000, 10_000];

export class Daemon {
  private config!: ResolvedConfig;
  private readonly trackers = new Map<string, Tracker>();
  private readonly settings = new Map<string, TrackSettings | null>();
  /** The state compile was last told per interface, and since when it holds. */
  private readonly states = new Map<string, { state: LinkState; since: number }>();
  private readonly egress = new Map<string, Egress>();
  private readonly loops = new Map<string, AbortController>();
  /** Cuts a probe loop's wait short (after a carrier change) so it re-reads its interval. */
  private readonly wakers = new Map<string, () => void>();
  /** Re-checks a continuous ping's processes (after a carrier change or an apply). */
  private readonly syncers = new Map<string, () => void>();
  private pending: Transition[] = [];
  /** State changes per interface whose hooks have not been queued yet (pending or being applied). */
  private readonly undelivered = new Map<string, number>();
  private readonly prober: Prober;
  private readonly startedAt = new Date().toISOString();
  private lastApply: DaemonState['lastApply'] = null;

  private applyWanted = 0;
  private applyDone = 0;
  private applyRunning: Promise<void> | null = null;
  private waiters: { gen: number; resolve: () => void }[] = [];
  private failures = 0;
  private heldForTry = false;
  /** The table as this daemon's last apply verified it: state changes are planned against it (no re-listing). */
  private known: NftObject[] | null = null;
  /** When the last try outcome this daemon followed was decided (ms); older ones were before its time. */
  private tryOutcomeSeen = 0;
  private tryFollow: Promise<void> = Promise.resolve();

  /** ip monitor: changes to links, addresses, routes and ip rules; null without it. */
  private readonly ipChanges: ChangeMonitor | null;
  /** Other processes' nft commits; null without `nft monitor`. */
  private readonly nftCommits: NftCommits | null;
  /** When `known` was verified, by `nftCommits`' mark: null when nobody can vouch it is still the table. */
  private knownNft: number | null = null;
  /** The ip state the last apply left, and when (by `ipChanges`' mark): it stands in for the next read while nothing is heard. */
  private knownIp: { snapshot: IpSnapshot; mark: number } | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private linkReadQueued = false;
  /** The main table's specific routes at the last link read (null before the first). */
  private mainRoutes: string | null = null;
  private server: Server | null = null;
  private stateWrite: NodeJS.Timeout | null = null;
  private stateWrites: Promise<void> = Promise.resolve();
  private stateWriteUrgent = false;
  private stopping = false;
  private readonly stopped: Promise<void>;
  private resolveStopped!: () => void;
  private readonly hookChain = new Map<string, Promise<void>>();
  private readonly stateChanges = new Map<string, number>();
  private lastPlan: Plan | null = null;
  private metricsServer: Server | null = null;
  private textfileTimer: NodeJS.Timeout | null = null;

  constructor(private readonly o: DaemonOptions) {
    this.prober = o.prober ?? runRound;
    const warn = (m: string) => o.log.warn(m);
    // Every line ip monitor prints is a change; each makes the links be read again.
    this.ipChanges = o.monitor === false ? null : new ChangeMonitor('ip monitor', o.monitor ?? ipMonitor, warn, () => this.queueLinkRead());
    this.nftCommits = o.nftMonitor === false ? null : new NftCommits(o.nftMonitor ?? nftMonitor, warn);
    this.stopped = new Promise((r) => (this.resolveStopped = r));
  }

  /** Loads the config, installs the first plan and starts tracking; resolves once running. */
  async start(): Promise<void> {
    this.config = configOrThrow(await loadConfig(this.o.configPath));
    this.tryOutcomeSeen = (await readTryOutcome(this.o.stateDir))?.at ?? 0;
    const previous = await readState(this.o.stateDir).catch(() => null);
    const links = await this.readUsable();
    const now = Date.now();
    for (const [name, iface] of Object.entries(this.config.interfaces)) {
      const before = previous?.interfaces[name];
      // A restarted daemon goes on from what the last one knew; a fresh start uses initialState.
      const initial = before?.tracked ?? iface.initialState;
      this.trackers.set(name, initialTracker(initial, links.get(name) ?? false, now, before?.forcedDown ?? false));
      this.settings.set(name, iface.track);
    }
    await mkdir(this.o.stateDir, { recursive: true, mode: 0o755 });
    this.server = await serveControl(join(this.o.stateDir, CONTROL_SOCKET), (req) => this.control(req));
    this.o.log.info(
      `started (pid ${process.pid}, config ${this.o.configPath}, state ${this.o.stateDir}): ${[...this.trackers].map(([n, t]) => `${n} ${linkState(t)}`).join(', ')}`,
    );
    this.refreshStates('start');
    this.nftCommits?.start();
    await this.applyAndWait();
    this.startMonitor();
    this.startLoops();
    await this.startMetrics();
  }

  /** The daemon's state as the state file holds it: also the input of the metrics. */
  snapshot(running = !this.stopping): DaemonState {
    const interfaces: DaemonState['interfaces'] = {};
    for (const [name, t] of this.trackers) {
      const s = this.states.get(name) ?? { state: linkState(t), since: t.since };
      interfaces[name] = interfaceRecord(t, s.state, s.since, this.settings.get(name) != null);
    }
    return {
      version: 1,
      pid: process.pid,
      running,
      configPath: resolve(this.o.configPath),
      startedAt: this.startedAt,
      updatedAt: new Date().toISOString(),
      interfaces,
      lastApply: this.lastApply,
    };
  }

  /** Prometheus text for this moment: the live state plus counters read from the kernel. */
  async metrics(): Promise<string> {
    const counters = this.lastPlan ? await readWanCounters(this.o.run, this.lastPlan) : {};
    return renderMetrics({ state: this.snapshot(), counters, stateChanges: Object.fromEntries(this.stateChanges), now: Date.now() });
  }

  private async startMetrics(): Promise<void> {
    const m = this.config.globals.metrics;
    if (m?.listen) {
      this.metricsServer = await serveMetrics(m.listen, () => this.metrics());
      this.o.log.info(`metrics on http://${m.listen}/metrics`);
    }
    if (m?.textfile) {
      const path = m.textfile;
      const write = () =>
        void this.metrics()
          .then((text) => writeTextfile(path, text))
          .catch((e: unknown) => this.o.log.warn(`metrics textfile ${path}: ${(e as Error).message}`));
      write();
      this.textfileTimer = setInterval(write, m.interval * 1000);
    }
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
    await this.applyAndWait();
    return { ok: true, message: 'config reloaded and applied' };
  }

  /** Makes `config` the running one: trackers for new interfaces, none for removed ones, probe loops restarted. */
  private async adopt(config: ResolvedConfig): Promise<void> {
    this.config = config;
    const links = await this.readUsable();
    const now = Date.now();
    for (const name of [...this.trackers.keys()]) {
      if (!(name in this.config.interfaces)) {
        this.trackers.delete(name);
        this.states.delete(name);
        this.settings.delete(name);
      }
    }
    for (const [name, iface] of Object.entries(this.config.interfaces)) {
      this.settings.set(name, iface.track);
      if (!this.trackers.has(name)) {
        this.trackers.set(name, initialTracker(iface.initialState, links.get(name) ?? false, now));
      }
    }
    this.refreshStates('operator');
    this.startLoops();
  }

  /**
   * Follows an `apply --try` decided since the last look, even one whose process is gone: after a confirm the
   * daemon runs the tried config (its file); after a rollback it keeps the previous one, in memory.
   */
  private followTry(): Promise<void> {
    this.tryFollow = this.tryFollow.then(() => this.followTryOnce()).catch((e: unknown) => this.o.log.warn(`following the try: ${(e as Error).message}`));
    return this.tryFollow;
  }

  private async followTryOnce(): Promise<void> {
    if (this.stopping) return;
    const o = await readTryOutcome(this.o.stateDir);
    if (o === null || o.at <= this.tryOutcomeSeen || o.configPath !== resolve(this.o.configPath)) return;
    this.tryOutcomeSeen = o.at;
    if (o.outcome === 'rollback') {
      this.o.log.warn(`the try of ${o.configPath} was rolled back: the daemon keeps running its previous config (in memory); the file on disk is the rejected one, and a reload or restart would take it up`);
      return;
    }
    if (configHash(this.config) === o.configHash) return;
    const loaded = await loadConfig(this.o.configPath);
    const config = loaded.ok ? loaded.config : null;
    if (config === null || configHash(config) !== o.configHash) {
      this.o.log.warn(`the try of ${o.configPath} was confirmed, but the file no longer holds the config tried: keeping the running config; reload to take the file up`);
      return;
    }
    this.o.log.info(`the try of ${o.configPath} was confirmed: the daemon takes that config up`);
    await this.adopt(config);
    this.requestApply();
  }

  async shutdown(signal = 'request'): Promise<void> {
    if (this.stopping) return this.stopped;
    this.stopping = true;
    this.o.log.info(`stopping (${signal})`);
    for (const ac of this.loops.values()) ac.abort();
    this.loops.clear();
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.ipChanges?.stop();
    this.nftCommits?.stop();
    this.server?.close();
    this.metricsServer?.close();
    if (this.textfileTimer) clearInterval(this.textfileTimer);
    await this.applyRunning?.catch(() => undefined);
    await Promise.all([...this.hookChain.values()]);
    if (this.o.stopOnExit) {
      try {
        const r = await stopEngine(this.o.run, this.config.globals);
        this.o.log.info(`removed table ${r.table ?? '(none)'}, ${r.rules} ip rules, ${r.routes} routes`);
      } catch (e) {
        this.o.log.error(`could not remove nft-mwan's rules: ${(e as Error).message}`);
      }
    } else {
      this.o.log.info('rules stay installed (traffic keeps flowing with the last known states)');
    }
    if (this.stateWrite) clearTimeout(this.stateWrite);
    await this.writeStateNow(false);
    this.resolveStopped();
  }

  // ---- events --------------------------------------------------------------------------------------------

  private onEvent(name: string, e: TrackEvent): void {
    const t = this.trackers.get(name);
    if (!t || this.stopping) return;
    const next = step(t, this.settings.get(name) ?? null, e);
    this.trackers.set(name, next);
    const between = e.type === 'round' ? progress(t, next) : null;
    if (between) this.queueBetween(name, between, next);
    if (e.type !== 'round' && next !== t) {
      this.wakers.get(name)?.();
      this.syncers.get(name)?.();
    }
    if (e.type === 'round' && next.lastRound && !next.lastRound.ok) {
      const r = next.lastRound;
      const failed = r.results.filter((p) => !p.ok).map((p) => `${p.target}: ${p.error ?? 'failed'}`);
      this.o.log.debug(`${name}: round failed (${next.state === 'online' ? `${next.fails} in a row` : 'offline'}): ${r.quality ?? failed.slice(0, 3).join(', ')}`);
    }
    const changed = this.refreshStates(next.lastReason);
    this.scheduleStateWrite(changed || e.type !== 'round');
  }

  /** Compares every tracker's state with the last one recorded; a change queues an apply. */
  private refreshStates(reason: Reason): boolean {
    let changed = false;
    for (const [name, t] of this.trackers) {
      const state = linkState(t);
      const before = this.states.get(name);
      if (before?.state === state) continue;
      this.states.set(name, { state, since: Date.now() });
      changed = true;
      if (before === undefined) continue;
      const why = t.forcedDown && state !== 'down' ? 'operator' : t.lastReason === 'start' ? reason : t.lastReason;
      const detail = describe(why, t);
      this.o.log.info(`${name}: ${before.state} -> ${state} (${detail})`);
      this.stateChanges.set(name, (this.stateChanges.get(name) ?? 0) + 1);
      this.pending.push({ name, from: before.state, to: state, reason: why, detail });
      this.undelivered.set(name, (this.undelivered.get(name) ?? 0) + 1);
    }
    if (changed) this.requestApply();
    return changed;
  }

  // ---- apply -------------------------------------------------------------------------------------------

  private requestApply(): number {
    const gen = ++this.applyWanted;
    if (!this.applyRunning) {
      this.applyRunning = this.applyLoop().finally(() => (this.applyRunning = null));
    }
    return gen;
  }

  /** Resolves once an apply that started after this call has succeeded. */
  private applyAndWait(): Promise<void> {
    const gen = this.requestApply();
    if (this.applyDone >= gen) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ gen, resolve }));
  }

  private currentStates(): Record<string, LinkState> {
    return Object.fromEntries([...this.states].map(([n, s]) => [n, s.state]));
  }

  private async applyLoop(): Promise<void> {
    while (this.applyDone < this.applyWanted && !this.stopping) {
      // An operator's `apply --try` is pending: its rollback must find exactly what it left.
      const hold = await tryHold(this.o.stateDir);
      if (hold !== null) {
        if (!this.heldForTry) this.o.log.warn(`${hold}: re-applies wait until it is confirmed or rolled back`);
        this.heldForTry = true;
        await sleep(200);
        continue;
      }
      if (this.heldForTry) {
        this.o.log.info('the try is decided: re-applies resume');
        // Another process changed the table meanwhile: what this daemon verified last is history.
        this.known = null;
        // Before anything is applied: after a confirm that is the tried config, not the one held in memory.
        await this.followTry();
      }
      this.heldForTry = false;
      const gen = this.applyWanted;
      const states = this.currentStates();
      const transitions = this.pending;
      this.pending = [];
      const t0 = performance.now();
      try {
        const ipMark = this.ipChanges?.mark() ?? null;
        const ip = this.knownIp && this.ipChanges?.unchangedSince(this.knownIp.mark) ? this.knownIp.snapshot : null;
        const nftMark = this.nftCommits?.mark() ?? null;
        const result = await apply(this.o.run, this.config, this.o.log, states, {
          known: this.known,
          knownIp: ip,
          knownIsCurrent: this.nftCommits?.unchangedSince(this.knownNft) ?? false,
          ...(this.nftCommits ? { watch: this.nftCommits.watch } : {}),
        });
        this.known = result.listing;
        // No commit but its own since the apply began: its listing is the table now.
        this.knownNft = this.nftCommits?.unchangedSince(nftMark) ? nftMark : null;
        // Heard nothing since the apply began: what it read (or reused) is the ip state now.
        this.knownIp = result.ip && ipMark !== null && this.ipChanges?.unchangedSince(ipMark) ? { snapshot: result.ip, mark: ipMark } : null;
        this.lastPlan = result.plan;
        for (const i of result.plan.interfaces) {
          this.egress.set(i.name, { device: i.device, mark: i.mark, address: i.address });
        }
        this.applyDone = gen;
        this.failures = 0;
        // The WANs' marks and devices are known (or changed): continuous probes start or follow.
        for (const sync of this.syncers.values()) sync();
        const summary = Object.entries(states).map(([n, s]) => `${n}=${s}`).join(' ');
        this.o.log.info(`states applied in ${(performance.now() - t0).toFixed(0)} ms: ${summary}`);
        await this.afterApply(transitions, result.plan.markMask, new Map(result.plan.interfaces.map((i) => [i.name, i.mark])));
        // Reported once the state change is complete: rules in place, the failed WAN's connections flushed.
        this.lastApply = { at: new Date().toISOString(), ok: true, error: null };
        this.waiters = this.waiters.filter((w) => (w.gen <= gen ? (w.resolve(), false) : true));
      } catch (e) {
        // Nothing changed (apply rolls back); the transitions are still owed their flush and hooks.
        this.pending = [...transitions, ...this.pending];
        // The next attempt reads the table and the ip state afresh.
        this.known = null;
        this.knownNft = null;
        this.knownIp = null;
        const wait = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)] as number;
        this.failures++;
        this.lastApply = { at: new Date().toISOString(), ok: false, error: (e as Error).message };
        this.o.log.error(`apply failed (attempt ${this.failures}), retrying in ${wait / 1000} s: ${(e as Error).message}`);
        this.scheduleStateWrite(true);
        await sleep(wait);
      }
    }
    this.scheduleStateWrite(true);
  }

  /**
   * Only now are the new rules in place: delete the changed WANs' connections, then tell the hooks. A WAN
   * whose flushConntrack names the new state loses all its connections; one that went offline without it
   * still loses its TCP attempts and UDP flows that never got an answer (none of them carries traffic).
   */
  private async afterApply(transitions: Transition[], mask: number, marks: Map<string, number>): Promise<void> {
    const flushed = new Set<string>();
    for (const tr of [...transitions].reverse()) {
      if (tr.action !== undefined || flushed.has(tr.name)) continue;
      flushed.add(tr.name);
      const mark = marks.get(tr.name);
      const trigger = tr.to === 'online' ? 'online' : 'offline';
      const all = (this.config.interfaces[tr.name]?.flushConntrack ?? []).includes(trigger);
      if (mark === undefined || this.states.get(tr.name)?.state !== tr.to || (!all && trigger !== 'offline')) continue;
      try {
        if (all) {
          const n = await flushByMark(this.o.run, mark, mask);
          this.o.log.info(`${tr.name}: deleted ${n} conntrack entr${n === 1 ? 'y' : 'ies'} marked for it (flushConntrack ${trigger})`);
          continue;
        }
        const { tcp, udp, udpLeft } = await flushUnanswered(this.o.run, mark, mask);
        if (tcp > 0) this.o.log.info(`${tr.name}: deleted ${tcp} unanswered TCP connection attempt${tcp === 1 ? '' : 's'} marked for it (SYN_SENT), so they are balanced again`);
        if (udp > 0) this.o.log.info(`${tr.name}: deleted ${udp} UDP flow${udp === 1 ? '' : 's'} marked for it that never got a reply, so ${udp === 1 ? 'its' : 'their'} next packets are balanced again`);
        if (udpLeft > 0) this.o.log.warn(`${tr.name}: ${udpLeft} more unreplied UDP flows marked for it were left to expire (at most ${UDP_DELETE_LIMIT} are deleted per event)`);
      } catch (e) {
        this.o.log.warn(`${tr.name}: ${all ? 'conntrack flush' : 'deleting its unanswered connection attempts'} failed: ${(e as Error).message}`);
      }
    }
    for (const tr of transitions) {
      this.queueHook(tr);
      if (tr.action === undefined) this.undelivered.set(tr.name, (this.undelivered.get(tr.name) ?? 1) - 1);
    }
    // connecting/disconnecting that came during this apply waited for its hooks; due now, unless
    // another change of the same WAN is still owed first.
    const owed = new Set<string>();
    this.pending = this.pending.filter((tr) => {
      if (tr.action === undefined) owed.add(tr.name);
      else if (!owed.has(tr.name)) return (this.queueHook(tr), false);
      return true;
    });
  }

  /** No rule changes: the hook runs at once, or after the state change still owed to this WAN (keeping mwan3's order). */
  private queueBetween(name: string, action: 'connecting' | 'disconnecting', t: Tracker): void {
    const state = linkState(t);
    const r = t.lastRound?.results.find((p) => !p.ok);
    const detail = action === 'connecting' ? 'first good probe round' : `first failed probe round: ${t.lastRound?.quality ?? `${r?.target ?? '?'} ${r?.error ?? ''}`.trim()}`;
    const tr: Transition = { name, from: state, to: state, reason: 'probes', detail, action };
    if ((this.undelivered.get(name) ?? 0) > 0) this.pending.push(tr);
    else this.queueHook(tr);
  }

  private queueHook(tr: Transition): void {
    const hooks = this.config.globals.hooks;
    const mwan3User = this.config.globals.mwan3User;
    if (!hooks && !mwan3User) return;
    const iface = this.config.interfaces[tr.name] as ResolvedInterface | undefined;
    const action = tr.action ?? hookAction(tr.from, tr.to, tr.reason);
    const event: HookEvent = { action, interface: tr.name, device: iface?.device ?? '', state: tr.to, reason: tr.detail };
    const timeout = this.config.globals.hookTimeout;
    // One chain per interface keeps its events in order without ever making the daemon wait.
    const prev = this.hookChain.get(tr.name) ?? Promise.resolve();
    const next = prev
      .then(async () => {
        if (hooks) await runHooks(hooks, event, timeout, this.o.log);
        if (mwan3User) await runMwan3User(mwan3User, event, timeout, this.o.log);
      })
      .catch((e: unknown) => this.o.log.warn(`hooks: ${(e as Error).message}`));
    this.hookChain.set(tr.name, next);
  }

  // ---- probes ------------------------------------------------------------------------------------------

  private startLoops(): void {
    for (const ac of this.loops.values()) ac.abort();
    this.loops.clear();
    for (const [name, s] of this.settings) {
      if (s === null || this.config.interfaces[name]?.enabled === false) continue;
      const ac = new AbortController();
      this.loops.set(name, ac);
      // One echo per round with ping: long-running ping processes; anything else: a probe run per round.
      if (this.o.prober === undefined && s.method === 'ping' && s.count === 1) this.continuousPing(name, s, ac.signal);
      else void this.probeLoop(name, s, ac.signal);
    }
  }

  /**
   * Rounds from one long-running ping per target: a round is one verdict per target. The processes are
   * started again whenever what they need changes (the interval for the state, the WAN's device or mark)
   * and stopped while the link is down.
   */
  private continuousPing(name: string, s: TrackSettings, signal: AbortSignal): void {
    let sessions: PingSession[] = [];
    let queues: EchoResult[][] = [];
    let current = '';
    const sync = () => {
      const t = this.trackers.get(name);
      const e = this.egress.get(name);
      const interval = t ? nextInterval(t, s) : s.interval;
      const key = !signal.aborted && t?.carrier && e ? `${e.device}/${e.mark}/${interval}` : '';
      if (key === current) return;
      for (const x of sessions) x.stop();
      sessions = [];
      current = key;
      if (key === '' || !e) return;
      queues = s.targets.map(() => []);
      sessions = s.targets.map(
        (target, i) =>
          new PingSession(target, e, interval, s.timeout, (_gen, _seq, r) => {
            queues[i]?.push(r);
            if (!queues.every((q) => q.length > 0)) return;
            const results = queues.map((q, j) => ({ target: s.targets[j] as string, ...(q.shift() as EchoResult) }));
            this.onEvent(name, { type: 'round', at: Date.now(), results });
            sync();
          }),
      );
      for (const x of sessions) x.start();
    };
    this.syncers.set(name, sync);
    signal.addEventListener('abort', () => {
      this.syncers.delete(name);
      sync();
    });
    sync();
  }

  private async probeLoop(name: string, s: TrackSettings, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const started = performance.now();
      const t = this.trackers.get(name);
      const egress = this.egress.get(name);
      if (t && egress && t.carrier) {
        try {
          const results = await this.prober(s, egress, signal);
          if (signal.aborted) return;
          this.onEvent(name, { type: 'round', at: Date.now(), results });
        } catch (e) {
          this.o.log.warn(`${name}: probe round failed to run: ${(e as Error).message}`);
        }
      }
      // Re-evaluated on every wake-up: a state change (carrier back, say) can shorten the wait.
      for (;;) {
        const tracker = this.trackers.get(name);
        const interval = tracker ? nextInterval(tracker, s) : s.interval;
        const wait = interval * 1000 - (performance.now() - started);
        if (wait <= 0 || signal.aborted) break;
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer);
            signal.removeEventListener('abort', wake);
            this.wakers.delete(name);
            resolve();
          };
          const timer = setTimeout(wake, wait);
          signal.addEventListener('abort', wake);
          this.wakers.set(name, wake);
        });
      }
    }
  }

  // ---- links ---------------------------------------------------------------------------------------------

  /**
   * Per interface: can it carry traffic at all? Device present, up, with carrier, and for gateway "auto"
   * a default route through it in the main table (else there is no next hop to use).
   */
  private async readUsable(): Promise<Map<string, boolean>> {
    const ifaces = Object.entries(this.config.interfaces);
    // IPv6 routes with an IPv6 WAN: its gateway may be "auto", and its bypass set follows the main table.
    const v6 = ifaces.some(([, i]) => i.family !== 'ipv4');
    const [links, main, main6] = await Promise.all([
      readLinks(this.o.run),
      readMainRoutes(this.o.run, 4),
      v6 ? readMainRoutes(this.o.run, 6) : Promise.resolve([]),
    ]);
    // The main table's specific routes are the bypass set's content: when one comes or goes (a VPN, a
    // static route), re-apply so new connections to it are not balanced out through a WAN.
    const specific = [...main, ...main6]
      .filter((r) => r.dst !== 'default' && (r.type === undefined || r.type === 'unicast'))
      .map((r) => r.dst)
      .sort()
      .join(' ');
    if (this.mainRoutes !== null && specific !== this.mainRoutes && !this.stopping) {
      // Seen by a poll before (or without) the monitor's event: the ip state read before is stale.
      this.ipChanges?.changed();
      this.o.log.info('the main table\'s specific routes changed: re-applying so the bypass set follows');
      this.requestApply();
    }
    this.mainRoutes = specific;
    const hasDefault = (routes: typeof main, device: string) => routes.some((r) => r.dst === 'default' && r.dev === device && r.gateway);
    const out = new Map<string, boolean>();
    for (const [name, iface] of ifaces) {
      const link = links.get(iface.device);
      const family = iface.family;
      const ok4 = family === 'ipv6' || iface.gateway !== 'auto' || hasDefault(main, iface.device);
      const ok6 = family === 'ipv4' || iface.gateway6 !== 'auto' || hasDefault(main6, iface.device);
      out.set(name, (link?.carrier ?? false) && ok4 && ok6);
    }
    return out;
  }

  private startMonitor(): void {
    this.ipChanges?.start();
    // Polling as well: a missed netlink event must not leave a dead link in service for long.
    // The same timer notices a try decided while no apply was held for it.
    this.pollTimer = setInterval(() => {
      this.queueLinkRead();
      void this.followTry();
    }, (this.o.linkPollS ?? 5) * 1000);
  }

  private queueLinkRead(): void {
    if (this.linkReadQueued || this.stopping) return;
    this.linkReadQueued = true;
    setTimeout(() => {
      this.linkReadQueued = false;
      this.readUsable().then(
        (usable) => {
          for (const [name, up] of usable) this.onEvent(name, { type: 'carrier', at: Date.now(), up });
        },
        (e: unknown) => this.o.log.warn(`cannot read links: ${(e as Error).message}`),
      );
    }, 20);
  }

  // ---- control and state -----------------------------------------------------------------------------------

  private async control(req: ControlRequest): Promise<ControlReply> {
    if (req.command === 'reload') return this.reload();
    if (req.command !== 'ifup' && req.command !== 'ifdown') return { ok: false, message: `unknown command ${JSON.stringify((req as { command?: unknown }).command)}` };
    const name = req.interface;
    if (!this.trackers.has(name)) {
      return { ok: false, message: `unknown interface "${name}" (interfaces: ${[...this.trackers.keys()].join(', ')})` };
    }
    this.o.log.info(`${req.command} ${name} (operator)`);
    this.onEvent(name, { type: 'force', at: Date.now(), down: req.command === 'ifdown' });
    await this.applyAndWait();
    const state = this.states.get(name)?.state ?? 'offline';
    return { ok: true, message: `${name} is ${state}${req.command === 'ifup' && state !== 'online' ? ' (waiting for its link and probes)' : ''}` };
  }

  /**
   * Soon after a state change or an apply; otherwise (probe rounds only) at most once a second: the file
   * stays fresh for `status` without costing the daemon a write per round.
   */
  private scheduleStateWrite(urgent = false): void {
    if (this.stopping) return;
    if (this.stateWrite) {
      if (!urgent || this.stateWriteUrgent) return;
      clearTimeout(this.stateWrite);
    }
    this.stateWriteUrgent = urgent;
    this.stateWrite = setTimeout(() => {
      this.stateWrite = null;
      void this.writeStateNow(true);
    }, urgent ? 50 : 1_000);
  }

  /** Writes go one after another, so the last one written is the last one made (shutdown's `running: false`). */
  private writeStateNow(running: boolean): Promise<void> {
    this.stateWrites = this.stateWrites.then(() => this.writeStateOnce(running));
    return this.stateWrites;
  }

  private async writeStateOnce(running: boolean): Promise<void> {
    try {
      await writeState(this.o.stateDir, this.snapshot(running));
    } catch (e) {
      this.o.log.warn(`cannot write the state file in ${this.o.stateDir}: ${(e as Error).message}`);
    }
  }
}

function describe(reason: Reason, t: Tracker): string {
  switch (reason) {
    case 'carrier':
      return t.carrier ? 'link back; waiting for good probe rounds' : 'link down, device gone or no gateway';
    case 'operator':
      return t.forcedDown ? 'ifdown by operator' : 'ifup by operator';
    case 'probes': {
      const r = t.lastRound;
      if (!r) return 'probes';
      if (t.state === 'online') return `probes answered (rtt ${r.rttMs?.toFixed(1) ?? '-'} ms, loss ${r.lossPct.toFixed(0)}%)`;
      const failed = r.results.find((p) => !p.ok);
      return `probes failing: ${r.quality ?? `${failed?.target ?? '?'} ${failed?.error ?? ''}`.trim()}`;
    }
    case 'start':
      return 'start';
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done);
  });
}
