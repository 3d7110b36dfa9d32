// The apply cache: what the last apply verified is handed to the next only while the monitors vouch for it; a failure forgets all.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { ApplyOptions, ApplyResult } from '../../src/engine/apply.js';
import type { ResolvedConfig } from '../../src/config/resolved.js';
import type { MonitorListener, MonitorStarter } from '../../src/system/monitor.js';
import type { Runner } from '../../src/system/runner.js';

const calls: ApplyOptions[] = [];
const next: { fail: boolean; ip: boolean; during?: () => void } = { fail: false, ip: true };
let n = 0;

vi.mock('../../src/engine/apply.js', () => ({
  apply: async (_run: Runner, _config: ResolvedConfig, _log: unknown, _states: unknown, o: ApplyOptions): Promise<ApplyResult> => {
    calls.push(o);
    next.during?.();
    if (next.fail) throw new Error('verify mismatch');
    n++;
    return {
      plan: { interfaces: [], markMask: 0x3f00, table: { family: 'inet', name: 'nft_mwan' } } as unknown as ApplyResult['plan'],
      changed: true,
      nftChanged: true,
      routingOps: 0,
      listing: [{ table: { n } }],
      ip: next.ip ? { protocol: 77, ip4: { n } as never, ip6: null } : null,
    };
  },
}));

const { ApplyCache } = await import('../../src/engine/apply-cache.js');
const { ChangeMonitor } = await import('../../src/system/monitor.js');

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const noRun: Runner = async () => ({ stdout: '', stderr: '', exitCode: 0 });
const config = {} as ResolvedConfig;

/** A monitor stand-in: listening once told, reporting lines on demand. */
function standIn() {
  let listener: MonitorListener | undefined;
  let ready = () => undefined as void;
  const starter: MonitorStarter = (l) => {
    listener = l;
    return { ready: new Promise<void>((r) => (ready = r)), done: new Promise<string>(() => undefined), kill: () => undefined };
  };
  return { starter, listen: () => ready(), say: (line: string) => listener?.line(line) };
}
const settle = () => new Promise((r) => setTimeout(r, 0));

beforeEach(() => {
  calls.length = 0;
  next.fail = false;
  next.ip = true;
  delete next.during;
});

describe('ApplyCache', () => {
  it('without monitors: the listing is handed on but never vouched for, the ip state never reused', async () => {
    const cache = new ApplyCache(noRun, quiet, { ip: null, nftMonitor: false });
    await cache.apply(config, {});
    await cache.apply(config, {});
    expect(calls.map((c) => ({ known: c.known !== null, knownIp: c.knownIp, knownIsCurrent: c.knownIsCurrent }))).toEqual([
      { known: false, knownIp: null, knownIsCurrent: false },
      { known: true, knownIp: null, knownIsCurrent: false },
    ]);
    expect(calls[1]?.known).toEqual([{ table: { n: 1 } }]);
    expect(cache.plan?.markMask).toBe(0x3f00);
  });

  it('ip monitor listening and quiet: the ip state of the last apply stands in; a change heard voids it', async () => {
    const ipMon = standIn();
    const ip = new ChangeMonitor('ip monitor', ipMon.starter, () => undefined);
    ip.start();
    ipMon.listen();
    await settle();
    const cache = new ApplyCache(noRun, quiet, { ip, nftMonitor: false });
    await cache.apply(config, {});
    await cache.apply(config, {});
    expect(calls[1]?.knownIp).toMatchObject({ protocol: 77 });
    ipMon.say('2: wan1: <BROADCAST>');
    await cache.apply(config, {});
    expect(calls[2]?.knownIp).toBeNull();
    // Heard during an apply: what it read is not the ip state now either.
    next.during = () => ipMon.say('route add 10.0.0.0/8');
    await cache.apply(config, {});
    delete next.during;
    await cache.apply(config, {});
    expect(calls[4]?.knownIp).toBeNull();
  });

  it("nft monitor: the listing is vouched for while no other commit is heard; another process's commit voids it", async () => {
    const nft = standIn();
    const cache = new ApplyCache(noRun, quiet, { ip: null, nftMonitor: nft.starter });
    cache.start();
    nft.listen();
    await settle();
    await cache.apply(config, {});
    await cache.apply(config, {});
    expect(calls[1]?.knownIsCurrent).toBe(true);
    expect(typeof calls[1]?.watch).toBe('function');
    nft.say('# new generation 12 by process 1 (nft)');
    await cache.apply(config, {});
    expect(calls[2]?.knownIsCurrent).toBe(false);
    cache.stop();
  });

  it('a failed apply forgets everything; so does forget()', async () => {
    const cache = new ApplyCache(noRun, quiet, { ip: null, nftMonitor: false });
    await cache.apply(config, {});
    next.fail = true;
    await expect(cache.apply(config, {})).rejects.toThrow('verify mismatch');
    next.fail = false;
    await cache.apply(config, {});
    expect(calls[2]?.known).toBeNull();
    cache.forget();
    await cache.apply(config, {});
    expect(calls[3]?.known).toBeNull();
  });
});
