// The hook queue: a transition's mwan3 event, one chain per WAN (in order, never blocking), nothing without hooks configured.
import { describe, expect, it } from 'vitest';
import { HookQueue, hookEvent } from '../../src/daemon/hook-queue.js';
import type { HookEvent } from '../../src/daemon/hooks.js';
import type { Transition } from '../../src/daemon/ledger.js';
import { validateConfig } from '../../src/config/validate.js';
import type { ResolvedConfig } from '../../src/config/resolved.js';

function config(globals: Record<string, unknown> = {}): ResolvedConfig {
  const v = validateConfig({
    globals,
    interfaces: { wan1: { device: 'eth1', gateway: '192.0.2.1' }, wan2: { device: 'eth2', gateway: '198.51.100.1' } },
    policies: { p: { members: [{ interface: 'wan1' }, { interface: 'wan2' }] } },
    rules: [{ name: 'default', policy: 'p' }],
  });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return v.config;
}
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const tr = (name: string, from: Transition['from'], to: Transition['to'], reason: Transition['reason'] = 'probes'): Transition => ({
  name,
  from,
  to,
  reason,
  detail: `${from}->${to}`,
});

describe('hookEvent', () => {
  it.each([
    { t: tr('wan1', 'online', 'offline'), action: 'disconnected' },
    { t: tr('wan1', 'offline', 'down', 'carrier'), action: 'ifdown' },
    { t: { ...tr('wan2', 'offline', 'offline'), action: 'connecting' as const }, action: 'connecting' },
  ])('$t.name $t.from -> $t.to ($t.reason): $action, with its device', ({ t, action }) => {
    expect(hookEvent(t, config())).toEqual({
      action,
      interface: t.name,
      device: t.name === 'wan1' ? 'eth1' : 'eth2',
      family: 'ipv4',
      state: t.to,
      reason: t.detail,
    });
  });

  it.each<[string, Transition, string]>([
    ["the family of a WAN's own state (IPv6 tracker of a WAN with track6)", { ...tr('ds', 'online', 'offline'), family: 'ipv6' }, 'ipv6'],
    ['the IPv4 state of a WAN with track6', { ...tr('ds', 'online', 'offline'), family: 'ipv4' }, 'ipv4'],
    ['"both" for a dual-stack WAN with one state', tr('ds', 'online', 'offline'), 'both'],
  ])('FAMILY is %s', (_what, t, family) => {
    const v = validateConfig({
      interfaces: { ds: { device: 'eth3', gateway: '192.0.2.1', family: 'both' } },
      policies: { p: { members: [{ interface: 'ds' }] } },
      rules: [{ name: 'default', policy: 'p' }],
    });
    if (!v.ok) throw new Error(JSON.stringify(v.issues));
    expect(hookEvent(t, v.config).family).toBe(family);
  });
});

describe('HookQueue', () => {
  it("runs one WAN's events in order, each after the last has finished, while another WAN's run beside them", async () => {
    const log: string[] = [];
    const release: Record<string, () => void> = {};
    const q = new HookQueue({
      config: () => config({ hooks: '/etc/nft-mwan/hooks.d' }),
      log: quiet,
      run: (e: HookEvent) => {
        log.push(`start ${e.interface} ${e.action}`);
        return new Promise<void>((r) => (release[`${e.interface} ${e.action}`] = () => (log.push(`end ${e.interface} ${e.action}`), r())));
      },
    });
    q.queue(tr('wan1', 'online', 'offline'));
    q.queue(tr('wan1', 'offline', 'online'));
    q.queue(tr('wan2', 'online', 'offline'));
    await new Promise((r) => setTimeout(r, 5));
    expect(log).toEqual(['start wan1 disconnected', 'start wan2 disconnected']);
    release['wan1 disconnected']?.();
    await new Promise((r) => setTimeout(r, 5));
    expect(log.slice(2)).toEqual(['end wan1 disconnected', 'start wan1 connected']);
    release['wan1 connected']?.();
    release['wan2 disconnected']?.();
    await q.idle();
    expect(log).toHaveLength(6);
  });

  it('a failing hook is a warning and does not stop the next one', async () => {
    const warnings: string[] = [];
    const ran: string[] = [];
    const q = new HookQueue({
      config: () => config({ mwan3User: '/etc/mwan3.user' }),
      log: { ...quiet, warn: (m) => warnings.push(m) },
      run: async (e) => {
        ran.push(e.action);
        if (ran.length === 1) throw new Error('exit 2');
      },
    });
    q.queue(tr('wan1', 'online', 'offline'));
    q.queue(tr('wan1', 'offline', 'online'));
    await q.idle();
    expect(ran).toEqual(['disconnected', 'connected']);
    expect(warnings).toEqual(['hooks: exit 2']);
  });

  it('without hooks or mwan3User configured, nothing runs', async () => {
    let runs = 0;
    const q = new HookQueue({ config: () => config(), log: quiet, run: async () => void runs++ });
    q.queue(tr('wan1', 'online', 'offline'));
    await q.idle();
    expect(runs).toBe(0);
  });
});
