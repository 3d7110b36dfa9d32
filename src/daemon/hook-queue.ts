// The hook queue: each transition's hooks run in the background, one chain per WAN so its events keep their order.
import type { ResolvedConfig } from '../config/resolved.js';
import type { Logger } from '../model/logger.js';
import { hookAction, runHooks, runMwan3User, type HookEvent } from './hooks.js';
import type { Transition } from './ledger.js';

export interface HookQueueOptions {
  config(): ResolvedConfig;
  log: Logger;
  /** Runs one event's hooks (default: the hooks directory, then mwan3.user). */
  run?: (event: HookEvent, config: ResolvedConfig, log: Logger) => Promise<void>;
}

/** The mwan3 event of a transition. */
export function hookEvent(tr: Transition, config: ResolvedConfig): HookEvent {
  const action = tr.action ?? hookAction(tr.from, tr.to, tr.reason);
  const iface = config.interfaces[tr.name];
  return { action, interface: tr.name, device: iface?.device ?? '', family: tr.family ?? iface?.family ?? 'ipv4', state: tr.to, reason: tr.detail };
}

async function runConfigured(event: HookEvent, config: ResolvedConfig, log: Logger): Promise<void> {
  const { hooks, mwan3User, hookTimeout } = config.globals;
  if (hooks) await runHooks(hooks, event, hookTimeout, log);
  if (mwan3User) await runMwan3User(mwan3User, event, hookTimeout, log);
}

export class HookQueue {
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly o: HookQueueOptions) {}

  queue(tr: Transition): void {
    const config = this.o.config();
    if (!config.globals.hooks && !config.globals.mwan3User) return;
    const event = hookEvent(tr, config);
    const run = this.o.run ?? runConfigured;
    // One chain per interface keeps its events in order without ever making the daemon wait.
    const next = (this.chains.get(tr.name) ?? Promise.resolve())
      .then(() => run(event, config, this.o.log))
      .catch((e: unknown) => {
        this.o.log.warn(`hooks: ${(e as Error).message}`);
      });
    this.chains.set(tr.name, next);
  }

  /** Resolves once every hook queued so far has run. */
  async idle(): Promise<void> {
    await Promise.all([...this.chains.values()]);
  }
}
