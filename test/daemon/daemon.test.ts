// The daemon against a fake system (nft, ip, conntrack and probes answered in process): what it runs and in which
// order on a state change (flush only after the new rules are in, never after a failed apply), the retry backoff,
// and the mwan3 actions its hooks get.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon, type MonitorStarter } from '../../src/daemon/daemon.js';
import type { MonitorListener } from '../../src/system/monitor.js';
import { apply } from '../../src/engine/apply.js';
import { validateConfig } from '../../src/config/validate.js';
import type { NftBatch } from '../../src/model/plan.js';
import type { Runner } from '../../src/system/runner.js';
import type { Prober } from '../../src/track/probes.js';

type Obj = Record<string, unknown>;

const DEVICES = {
  wan1: { net: '192.0.2.0/24', gateway: '192.0.2.1', address: '192.0.2.2' },
  wan2: { net: '198.51.100.0/24', gateway: '198.51.100.1', address: '198.51.100.2' },
} as const;
type Wan = keyof typeof DEVICES;

/** What nft lists after applying a batch to a table as listed: a small model of the kernel's transaction. */
function applyTo(listing: readonly Obj[], b: NftBatch): Obj[] {
  let out = listing.map((i) => structuredClone(i));
  let handle = Math.max(0, ...out.map((i) => Number((Object.values(i)[0] as Obj).handle ?? 0))) + 1;
  const named = (kind: string, name: unknown) => out.find((i) => (i[kind] as Obj | undefined)?.name === name)?.[kind] as Obj | undefined;
  for (const cmd of b.nftables) {
    const [verb, body] = Object.entries(cmd)[0] as [string, Record<string, Obj>];
    const [kind, o] = Object.entries(body)[0] as [string, Obj];
    if (kind === 'table') {
      // flush table empties the chains; sets and their elements survive, as in nft.
      if (verb === 'flush') out = out.filter((i) => !('rule' in i));
      continue;
    }
    if (verb === 'delete') out = out.filter((i) => (i[kind] as Obj | undefined)?.name !== o.name);
    else if (verb === 'flush' && kind === 'chain') out = out.filter((i) => (i.rule as Obj | undefined)?.chain !== o.name);
    else if (verb === 'flush') delete (named(kind, o.name) ?? {}).elem;
    else if (verb === 'add' && kind === 'element') {
      const set = named('set', o.name) ?? named('map', o.name);
      if (set) set.elem = [...((set.elem as unknown[] | undefined) ?? []), ...(o.elem as unknown[])];
    } else if (verb === 'add' && (kind === 'rule' || !named(kind, o.name))) out.push({ [kind]: { ...o, handle: handle++ } });
  }
  return out;
}

/** Does a batch's balancing policy send new connections to wan2? */
const wan2InPolicy = (b: NftBatch) =>
  b.nftables.some((c) => {
    const rule = (c as { add?: { rule?: Obj } }).add?.rule;
    return rule?.chain === 'policy_balanced' && JSON.stringify(rule).includes('"mark_wan2"');
  });

/** A kernel, routing and conntrack that answer like the real ones, recording every command as it starts and ends. */
function fakeSystem() {
  // ip rules and routes as `ip -batch` lines leave them, listed as `ip -j` prints them.
  const routing = { rules: new Map<string, Obj>(), routes: new Map<string, Obj>() };
  const changeRouting = ([kind, verb, ...a]: string[]) => {
    const arg = (name: string) => (a.includes(name) ? a[a.indexOf(name) + 1] : undefined);
    if (kind === 'rule') {
      const key = a.join(' ');
      if (verb === 'del') return void routing.rules.delete(key);
      const [fwmark, fwmask] = (arg('fwmark') ?? '').split('/');
      const [src, srclen] = (arg('from') ?? '').split('/');
      routing.rules.set(key, {
        priority: Number(arg('priority')),
        ...(src ? { src, srclen: Number(srclen) } : {}),
        ...(fwmark ? { fwmark, fwmask } : {}),
        ...(arg('lookup') ? { table: arg('lookup') } : { action: a.includes('unreachable') ? 'unreachable' : 'blackhole' }),
        ...(arg('suppress_prefixlength') ? { suppress_prefixlen: Number(arg('suppress_prefixlength')) } : {}),
        protocol: arg('protocol'),
      });
      return;
    }
    const key = `${arg('table')} ${a[0]} ${arg('metric') ?? ''}`;
    if (verb === 'del') return void routing.routes.delete(key);
    const gateway = arg('via');
    const metric = arg('metric');
    routing.routes.set(key, {
      dst: a[0],
      ...(gateway ? { gateway } : {}),
      dev: arg('dev'),
      table: arg('table'),
      protocol: arg('proto'),
      ...(metric ? { metric: Number(metric) } : {}),
    });
  };
  const events: string[] = [];
  const state = {
    listing: null as Obj[] | null,
    nftFails: false,
    lists: 0,
    ipReads: 0,
    /** `ip -j link show` runs: the link watcher's reads (and a reload's, for a new WAN). */
    linkReads: 0,
    carrier: { wan1: true, wan2: true } as Record<Wan, boolean>,
    /** Chains listed one by one, and whether an nft transaction was still running (not yet exited) then. */
    chainLists: [] as { chain: string; duringTransaction: boolean }[],
    chainListFails: false,
    /** Told each commit, as the kernel tells `nft monitor`. */
    onCommit: (_pid: number) => undefined as void,
  };
  let nextPid = 4000;
  let transactions = 0;
  const ok = (stdout = '', stderr = '') => ({ stdout, stderr, exitCode: 0 });
  const run: Runner = async (file, args, opts) => {
    const cmd = [file, ...args].join(' ');
    // Reads batched into one ip process: one JSON document per line, as `ip -j -batch` prints them.
    const batchedRead = /^ip -j (-[46]) -batch -$/.exec(cmd);
    if (batchedRead) {
      state.ipReads++;
      const lines = (opts?.input ?? '').split('\n').filter((l) => l.trim() !== '');
      const docs = await Promise.all(lines.map((l) => run('ip', ['-j', batchedRead[1] as string, ...l.trim().split(/\s+/)])));
      return ok(docs.map((d) => d.stdout).join('\n') + '\n');
    }
    if (file === 'nft' && args[0] === '-j' && args[1] === '-f') {
      const batch = JSON.parse(readFileSync(args[2] as string, 'utf8')) as NftBatch;
      const pid = nextPid++;
      opts?.onSpawn?.(pid);
      events.push('nft -j -f: start');
      transactions++;
      try {
        // A transaction takes a moment: anything run "after" it must wait for it, not just follow its start.
        await new Promise((r) => setTimeout(r, 30));
        if (state.nftFails) {
          events.push('nft -j -f: failed');
          return { stdout: '', stderr: 'nft: simulated failure\n', exitCode: 1 };
        }
        state.listing = applyTo(state.listing ?? [], batch);
        events.push(`nft -j -f: applied (wan2 in policy: ${wan2InPolicy(batch)})`);
        if (batch.nftables.length > 0) state.onCommit(pid);
        // Committed, but nft exits only once the kernel's cleanup after the commit is done.
        await new Promise((r) => setTimeout(r, 40));
        return ok();
      } finally {
        transactions--;
      }
    }
    if (cmd === 'nft -j list table inet nft_mwan') {
      state.lists++;
      return state.listing === null ? { stdout: '', stderr: 'No such file or directory\n', exitCode: 1 } : ok(JSON.stringify({ nftables: state.listing }));
    }
    const chain = /^nft -j list chain inet nft_mwan (\S+)$/.exec(cmd)?.[1];
    if (chain !== undefined) {
      state.chainLists.push({ chain, duringTransaction: transactions > 0 });
      const items = (state.listing ?? []).filter((i) => (i.chain as Obj | undefined)?.name === chain || (i.rule as Obj | undefined)?.chain === chain);
      const missing = items.length === 0 || state.chainListFails;
      return missing ? { stdout: '', stderr: 'No such file or directory\n', exitCode: 1 } : ok(JSON.stringify({ nftables: items }));
    }
    if (cmd === 'nft -j list tables') return ok(JSON.stringify({ nftables: state.listing ? [{ table: { family: 'inet', name: 'nft_mwan' } }] : [] }));
    if (file === 'conntrack') {
      events.push(`conntrack ${args.join(' ')}`);
      // A listing of a WAN's UDP flows: one that never got a reply, one answered.
      if (args[0] === '-L') {
        return ok(
          'udp      17 29 src=192.168.1.2 dst=192.0.2.9 sport=51820 dport=51820 [UNREPLIED] src=192.0.2.9 dst=198.51.100.2 sport=51820 dport=51820 mark=256 use=1\n' +
            'udp      17 110 src=192.168.1.3 dst=192.0.2.9 sport=5060 dport=5060 src=192.0.2.9 dst=198.51.100.2 sport=5060 dport=5060 [ASSURED] mark=256 use=1\n',
          'conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.\n',
        );
      }
      const n = args.includes('--sport') ? 1 : 2;
      return ok('', `conntrack v1.4.7 (conntrack-tools): ${n} flow entries have been deleted.\n`);
    }
    const wans = Object.entries(DEVICES) as [Wan, (typeof DEVICES)[Wan]][];
    // Every device, with or without an address of the family: as a batch line, `link show` runs under -4.
    if (cmd === 'ip -j link show') state.linkReads++;
    if (cmd === 'ip -j link show' || cmd === 'ip -j -4 link show') {
      return ok(
        JSON.stringify(
          wans.map(([dev]) => ({
            ifname: dev,
            flags: state.carrier[dev] ? ['UP', 'LOWER_UP'] : ['NO-CARRIER', 'UP'],
            operstate: state.carrier[dev] ? 'UP' : 'DOWN',
          })),
        ),
      );
    }
    if (cmd === 'ip -j -4 route show table main') return ok(JSON.stringify(wans.map(([dev, d]) => ({ dst: d.net, dev, scope: 'link' }))));
    if (cmd === 'ip -j -4 addr show')
      return ok(JSON.stringify(wans.map(([dev, d]) => ({ ifname: dev, addr_info: [{ family: 'inet', scope: 'global', local: d.address, prefixlen: 24 }] }))));
    if (cmd === 'ip -j -4 rule show') return ok(JSON.stringify([...routing.rules.values()]));
    if (/^ip -j -4 route show table all proto \d+$/.test(cmd)) return ok(JSON.stringify([...routing.routes.values()]));
    if (cmd === 'ip -j -4 route show table all') {
      const main = wans.map(([dev, d]) => ({ dst: d.net, dev, protocol: 'kernel', scope: 'link' }));
      return ok(JSON.stringify([...routing.routes.values(), ...main]));
    }
    if (cmd === 'ip -4 -batch -') {
      for (const line of (opts?.input ?? '').split('\n').filter((l) => l.trim() !== '')) changeRouting(line.trim().split(/\s+/));
      return ok();
    }
    throw new Error(`the fake system does not know ${cmd}`);
  };
  return { run, events, state };
}

let dir: string;
let daemon: Daemon | null = null;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nft-mwan-daemon-unit-'));
});
afterEach(async () => {
  await daemon?.shutdown();
  daemon = null;
  rmSync(dir, { recursive: true, force: true });
});

async function until<T>(what: string, f: () => T | false | undefined, timeoutMs = 5_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = f();
    if (v !== false && v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Starts a daemon on the fake system: rounds every 50 ms, 2 to go offline, 2 to come back. */
async function start(o: { globals?: Obj; monitor?: MonitorStarter; nftMonitor?: MonitorStarter; linkPollS?: number } = {}) {
  const sys = fakeSystem();
  const answers: Record<Wan, boolean> = { wan1: true, wan2: true };
  const prober: Prober = async (s, egress) => {
    await new Promise((r) => setTimeout(r, 2));
    const up = answers[egress.device as Wan];
    return s.targets.map((target) => ({ target, ok: up, rttMs: up ? 1 : null, error: up ? null : 'no reply within 50 ms' }));
  };
  const track = { targets: ['203.0.113.1'], interval: 0.05, timeout: 0.05, down: 2, up: 2 };
  const configPath = join(dir, 'config.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      ...(o.globals ? { globals: o.globals } : {}),
      interfaces: {
        wan1: { device: 'wan1', gateway: DEVICES.wan1.gateway, track },
        wan2: { device: 'wan2', gateway: DEVICES.wan2.gateway, track, flushConntrack: ['offline'] },
      },
      policies: { balanced: { members: [{ interface: 'wan1' }, { interface: 'wan2' }] } },
      rules: [{ name: 'default', policy: 'balanced' }],
    }),
  );
  const lines: string[] = [];
  const log = {
    debug: () => undefined,
    info: (m: string) => lines.push(`info: ${m}`),
    warn: (m: string) => lines.push(`warn: ${m}`),
    error: (m: string) => lines.push(`error: ${m}`),
  };
  const d = new Daemon({
    configPath,
    stateDir: join(dir, 'state'),
    run: sys.run,
    log,
    prober,
    linkPollS: o.linkPollS ?? 0.05,
    monitor: o.monitor ?? false,
    nftMonitor: o.nftMonitor ?? false,
  });
  daemon = d;
  // The fake answering something unexpected fails every apply: say so instead of timing out.
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the daemon did not start:\n${lines.slice(-5).join('\n')}`)), 3_000);
  });
  await Promise.race([d.start(), late]).finally(() => clearTimeout(timer));
  const stateOf = (name: Wan) => d.snapshot().interfaces[name]?.state;
  const applied = () => lines.filter((l) => l.startsWith('info: states applied in')).length;
  /** wan2's probes answer (or not); resolves once its state has followed and that apply is complete. */
  const setWan2 = async (up: boolean) => {
    const before = applied();
    answers.wan2 = up;
    await until(`wan2 ${up ? 'online' : 'offline'}`, () => stateOf('wan2') === (up ? 'online' : 'offline'));
    await until('its apply, complete', () => applied() > before);
  };
  return { d, sys, answers, lines, stateOf, setWan2 };
}

describe('a state change: the new rules first, then the flush', () => {
  it("deletes the failed WAN's connections only once the transaction without it has been applied", async () => {
    const { sys, answers, stateOf } = await start();
    expect(sys.events).toEqual(['nft -j -f: start', 'nft -j -f: applied (wan2 in policy: true)']);
    answers.wan2 = false;
    await until('wan2 offline', () => stateOf('wan2') === 'offline');
    await until('the flush', () => sys.events.some((e) => e.startsWith('conntrack')));
    // wan2's mark (0x200) under the mark mask: its connections only, never a global flush.
    expect(sys.events).toEqual([
      'nft -j -f: start',
      'nft -j -f: applied (wan2 in policy: true)',
      'nft -j -f: start',
      'nft -j -f: applied (wan2 in policy: false)',
      'conntrack -D -m 0x200/0x3f00',
    ]);
  });

  it('a failed apply never flushes; it is retried with growing waits, and the flush follows the retry that lands', async () => {
    const { sys, answers, lines, stateOf } = await start();
    sys.state.nftFails = true;
    answers.wan2 = false;
    await until('wan2 offline', () => stateOf('wan2') === 'offline');
    const retries = await until('three failed attempts', () => {
      const waits = lines.flatMap((l) => /^error: apply failed \(attempt \d+\), retrying in ([\d.]+) s: .*nft: simulated failure/s.exec(l)?.[1] ?? []);
      return waits.length >= 3 && waits.map(Number);
    });
    expect(retries.slice(0, 3)).toEqual([0.25, 0.5, 1]);
    expect(sys.events.filter((e) => e.startsWith('conntrack'))).toEqual([]);
    sys.state.nftFails = false;
    await until('the flush', () => sys.events.some((e) => e.startsWith('conntrack')));
    const applied = sys.events.indexOf('nft -j -f: applied (wan2 in policy: false)');
    expect(applied).toBeGreaterThan(0);
    expect(sys.events.slice(0, applied).filter((e) => e.startsWith('conntrack'))).toEqual([]);
    expect(sys.events.slice(applied + 1)).toEqual(['conntrack -D -m 0x200/0x3f00']);
  });
});

describe("a state change's time, from the trackers' decision to the verified table", () => {
  it('is logged with the apply of a state change, and not with an apply no state change asked for (the first)', async () => {
    const { lines, setWan2 } = await start();
    await setWan2(false);
    const timed = lines.filter((l) => l.startsWith('info: states applied in'));
    expect(timed[0]).not.toMatch(/after the state change/);
    const m = /^info: states applied in (\d+) ms, ([\d.]+) ms after the state change: .*wan2=offline/.exec(timed[timed.length - 1] ?? '');
    // The decision came before the apply began: its time covers the apply's.
    expect(m && Number(m[2]) + 1 >= Number(m[1])).toBe(true);
  });
});

describe('a WAN without flushConntrack that fails: only its unanswered attempts go', () => {
  it('after the apply without it, its SYN_SENT entries and unreplied UDP flows are deleted; nothing when it comes back', async () => {
    const { sys, answers, lines, stateOf } = await start();
    answers.wan1 = false;
    await until('wan1 offline', () => stateOf('wan1') === 'offline');
    await until('the deletions', () => sys.events.filter((e) => e.startsWith('conntrack')).length >= 3);
    const applied = sys.events.lastIndexOf('nft -j -f: applied (wan2 in policy: true)');
    expect(applied).toBeGreaterThan(1);
    // wan1's mark (0x100) only, TCP attempts and UDP flows that never had a reply only: no working connection is cut.
    expect(sys.events.slice(applied + 1)).toEqual([
      'conntrack -D -p tcp --state SYN_SENT -m 0x100/0x3f00',
      'conntrack -L -p udp -m 0x100/0x3f00',
      'conntrack -D -p udp -s 192.168.1.2 -d 192.0.2.9 --sport 51820 --dport 51820 -m 0x100/0x3f00',
    ]);
    expect(sys.events.slice(0, applied).filter((e) => e.startsWith('conntrack'))).toEqual([]);
    expect(lines).toContain('info: wan1: deleted 2 unanswered TCP connection attempts marked for it (SYN_SENT), so they are balanced again');
    expect(lines).toContain('info: wan1: deleted 1 UDP flow marked for it that never got a reply, so its next packets are balanced again');
    const before = sys.events.length;
    answers.wan1 = true;
    await until('wan1 online', () => stateOf('wan1') === 'online');
    await until('the apply with it', () => sys.events.length >= before + 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(sys.events.slice(before).filter((e) => e.startsWith('conntrack'))).toEqual([]);
  });
});

describe('reload', () => {
  it('applies without reading the links when it starts no tracker; a WAN new to the daemon is read first', async () => {
    // No poll in this test's time: every link read is the reload's own.
    const { d, sys, lines } = await start({ linkPollS: 3600 });
    const configPath = join(dir, 'config.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { interfaces: Record<string, Obj>; policies: { balanced: { members: Obj[] } } };
    const reads = sys.state.linkReads;
    const applies = sys.events.length;
    // The same WANs, one weight changed.
    config.policies.balanced.members = [{ interface: 'wan1', weight: 2 }, { interface: 'wan2' }];
    writeFileSync(configPath, JSON.stringify(config));
    expect(await d.reload()).toEqual({ ok: true, message: 'config reloaded and applied' });
    expect(sys.events.length).toBe(applies + 2);
    expect(sys.state.linkReads).toBe(reads);
    // wan2 dropped, then back: its tracker starts again, from its link as it is now.
    const wan2 = config.interfaces.wan2 as Obj;
    delete config.interfaces.wan2;
    config.policies.balanced.members = [{ interface: 'wan1' }];
    writeFileSync(configPath, JSON.stringify(config));
    expect((await d.reload()).ok).toBe(true);
    expect(sys.state.linkReads).toBe(reads);
    config.interfaces.wan2 = wan2;
    config.policies.balanced.members = [{ interface: 'wan1' }, { interface: 'wan2' }];
    writeFileSync(configPath, JSON.stringify(config));
    expect((await d.reload()).ok).toBe(true);
    expect(sys.state.linkReads).toBe(reads + 1);
    expect(lines.filter((l) => l.startsWith('error'))).toEqual([]);
  });

  it('a WAN moved to another gateway is read again soon after the reload', async () => {
    const { d, sys } = await start({ linkPollS: 3600 });
    const configPath = join(dir, 'config.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { interfaces: Record<string, Obj> };
    const reads = sys.state.linkReads;
    (config.interfaces.wan2 as Obj).gateway = '198.51.100.254';
    writeFileSync(configPath, JSON.stringify(config));
    expect((await d.reload()).ok).toBe(true);
    await until('the links read again', () => sys.state.linkReads > reads);
  });
});

describe('the ip state between applies: read again only once ip monitor has reported a change', () => {
  it('a state change while the monitor is quiet reads no ip state; one read before it listened, or after it spoke, does', async () => {
    let report = () => undefined as void;
    let listening = () => undefined as void;
    let exit = (_why: string) => undefined as void;
    const monitor: MonitorStarter = (listener) => {
      report = () => listener.line('3: wan9: <BROADCAST> mtu 1500');
      return { ready: new Promise<void>((r) => (listening = r)), done: new Promise<string>((r) => (exit = r)), kill: () => exit('killed') };
    };
    const { sys, setWan2: change } = await start({ monitor });
    expect(sys.state.ipReads).toBe(1);
    listening();
    // The first read was made before the monitor listened: not trusted.
    await change(false);
    expect(sys.state.ipReads).toBe(2);
    await change(true);
    expect(sys.state.ipReads).toBe(2);
    expect(sys.events.at(-1)).toBe('nft -j -f: applied (wan2 in policy: true)');
    // A route, address, rule or link change reported: read afresh.
    report();
    await change(false);
    expect(sys.state.ipReads).toBe(3);
    await change(true);
    expect(sys.state.ipReads).toBe(3);
    // The monitor gone: changes would go unheard, so every apply reads.
    exit('1');
    await change(false);
    expect(sys.state.ipReads).toBe(4);
  });
});

describe('the table between applies: only the chains rewritten are read back while nft monitor hears no other commit', () => {
  it('reads back the changed chains as soon as the commit is reported; any other commit makes the next apply read the table', async () => {
    let listener: MonitorListener | undefined;
    let listening = () => undefined as void;
    const nftMonitor: MonitorStarter = (l) => {
      listener = l;
      return { ready: new Promise<void>((r) => (listening = r)), done: new Promise<string>(() => undefined), kill: () => undefined };
    };
    const { sys, setWan2: change } = await start({ nftMonitor });
    let generation = 10;
    const classify = () => (sys.state.listing ?? []).filter((i) => (i.rule as Obj | undefined)?.chain === 'classify').length;
    expect(sys.state.lists).toBe(2);
    // Not listening yet: the whole table is read back.
    await change(false);
    expect(sys.state.lists).toBe(3);
    listening();
    // nft monitor reports commits only once it listens (an unheard own commit would look like another process's).
    sys.state.onCommit = (pid) => listener?.line(`# new generation ${generation++} by process ${pid} (nft)`);
    // Listening now, but what the last apply verified was read before it listened.
    await change(true);
    expect(sys.state.lists).toBe(4);
    expect(sys.state.chainLists).toEqual([]);
    // Only its own commits since: the policy chain it rewrote is listed, while nft has not yet exited.
    await change(false);
    await change(true);
    expect(sys.state.lists).toBe(4);
    expect(sys.state.chainLists).toEqual([
      { chain: 'policy_balanced', duringTransaction: true },
      { chain: 'policy_balanced', duringTransaction: true },
    ]);
    expect(classify()).toBeGreaterThan(0);
    // Someone else commits: here, emptying the classify chain, which no state change rewrites.
    sys.state.listing = (sys.state.listing ?? []).filter((i) => (i.rule as Obj | undefined)?.chain !== 'classify');
    listener?.line('# new generation 99 by process 1 (nft)');
    // No state changes: the other commit alone makes the daemon read the whole table, see the damage and repair it.
    await until('classify restored', () => classify() > 0);
    expect(sys.state.lists).toBeGreaterThan(4);
    // Verified afresh: the next state change lists only the chain it rewrote again.
    const lists = sys.state.lists;
    await change(false);
    expect(sys.state.lists).toBe(lists);
  });
});

describe('a corrupt state file', () => {
  it('is said so and kept aside as state.json.corrupt-TIMESTAMP, not silently ignored', async () => {
    mkdirSync(join(dir, 'state'), { recursive: true });
    writeFileSync(join(dir, 'state', 'state.json'), '{"version": 1, "interfaces": {"wan1": {"forcedDown": tr');
    const { lines } = await start();
    expect(lines).toContainEqual(
      expect.stringMatching(/^warn: the state file .*state\.json is corrupt \(not JSON: .*\), kept as .*state\.json\.corrupt-\d{4}-/),
    );
    const aside = readdirSync(join(dir, 'state')).filter((n) => n.startsWith('state.json.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(dir, 'state', aside[0] ?? ''), 'utf8')).toContain('"forcedDown": tr');
  });
});

describe('hooks: the mwan3 actions, in order', () => {
  it('probes: disconnecting, disconnected, connecting, connected; a carrier flap: ifdown, then ifup when the link is back', async () => {
    const out = join(dir, 'events.log');
    const hook = join(dir, 'hook');
    writeFileSync(hook, `#!/bin/sh\necho "$ACTION $INTERFACE $NFT_MWAN_STATE" >> '${out}'\n`);
    chmodSync(hook, 0o755);
    const { sys, answers, stateOf } = await start({ globals: { hooks: hook, hookTimeout: 5 } });
    const events = () => {
      try {
        return readFileSync(out, 'utf8').trim().split('\n');
      } catch {
        return [];
      }
    };
    const step = async (what: string, act: () => void, wan2: string, count: number) => {
      act();
      await until(`wan2 ${wan2}`, () => stateOf('wan2') === wan2);
      await until(`${what}: ${count} hook events`, () => events().length >= count);
    };
    await step('probes failing', () => (answers.wan2 = false), 'offline', 2);
    await step('probes answering', () => (answers.wan2 = true), 'online', 4);
    await step('carrier lost', () => (sys.state.carrier.wan2 = false), 'down', 5);
    await step('carrier back', () => (sys.state.carrier.wan2 = true), 'online', 8);
    expect(events()).toEqual([
      'disconnecting wan2 online',
      'disconnected wan2 offline',
      'connecting wan2 offline',
      'connected wan2 online',
      'ifdown wan2 down',
      'ifup wan2 offline',
      'connecting wan2 offline',
      'connected wan2 online',
    ]);
  });
});

describe('state changes planned against the table the last apply verified', () => {
  const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
  const v = validateConfig({
    interfaces: { wan1: { device: 'wan1', gateway: DEVICES.wan1.gateway }, wan2: { device: 'wan2', gateway: DEVICES.wan2.gateway } },
    policies: { balanced: { members: [{ interface: 'wan1' }, { interface: 'wan2' }] } },
    rules: [{ name: 'default', policy: 'balanced' }],
  });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  const config = v.config;

  it('vouched for, an incremental apply lists only the chains it rewrote; one that cannot be listed makes it read the table', async () => {
    const sys = fakeSystem();
    const first = await apply(sys.run, config, quiet);
    const off = await apply(sys.run, config, quiet, { wan2: 'offline' }, { known: first.listing, knownIsCurrent: true });
    expect(sys.state.lists).toBe(2);
    expect(sys.state.chainLists.map((c) => c.chain)).toEqual(['policy_balanced']);
    // What it returns is the table as it now stands, the rewritten chain taken from the fresh listing.
    expect(off.listing).toEqual(expect.arrayContaining(sys.state.listing ?? []));
    expect(off.listing).toHaveLength((sys.state.listing ?? []).length);
    // A chain nft cannot list: the whole table is read back instead.
    sys.state.chainListFails = true;
    await apply(sys.run, config, quiet, {}, { known: off.listing, knownIsCurrent: true });
    expect(sys.state.lists).toBe(3);
  });

  it('lists the table only to verify, and a table changed behind its back is caught, rolled back and read afresh next time', async () => {
    const sys = fakeSystem();
    const first = await apply(sys.run, config, quiet);
    expect(sys.state.lists).toBe(2); // discovery and read-back: nothing known yet
    const off = await apply(sys.run, config, quiet, { wan2: 'offline' }, { known: first.listing });
    expect(sys.state.lists).toBe(3); // the read-back only
    expect(off.nftChanged).toBe(true);
    expect(sys.events.at(-1)).toBe('nft -j -f: applied (wan2 in policy: false)');

    // Someone empties a chain behind the daemon's back: what it knows is stale, the read-back tells.
    sys.state.listing = (sys.state.listing ?? []).filter((i) => (i.rule as Obj | undefined)?.chain !== 'classify');
    await expect(apply(sys.run, config, quiet, {}, { known: off.listing })).rejects.toThrow(/read back differs/);
    // Without what it knew (as the daemon retries), the table is read and brought to the plan.
    const again = await apply(sys.run, config, quiet, {});
    expect(again.nftChanged).toBe(true);
    expect((sys.state.listing ?? []).some((i) => (i.rule as Obj | undefined)?.chain === 'classify')).toBe(true);
  });
});
