// Attacks on a running daemon: its table and routing deleted under it, untrusted or loud hooks, and a daemon that is not root.
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackgroundProcess } from '../../lab/netns.js';
import { readState } from '../../src/daemon/state-file.js';
import { type Arena, BIN, fail, firstLine, pass, sleep, SRV1, type Verdict, W1, W2 } from './arena.js';
import type { Attack } from './static.js';

const REPAIR_LIMIT_MS = 1_000;

/** A daemon in the gateway with tracking on both WANs and one hook path the attacks swap things under. */
export class DaemonRig {
  readonly dir: string;
  readonly configPath: string;
  readonly stateDir: string;
  readonly hookDir: string;
  readonly hook: string;
  proc: BackgroundProcess | null = null;

  constructor(private readonly arena: Arena) {
    this.dir = join(arena.work, 'daemon');
    this.hookDir = join(this.dir, 'hooks');
    mkdirSync(this.hookDir, { recursive: true, mode: 0o755 });
    chmodSync(this.dir, 0o755);
    this.hook = join(this.hookDir, 'hook');
    this.configPath = join(this.dir, 'config.json');
    this.stateDir = join(this.dir, 'state');
    const track = { targets: [SRV1], interval: 1, timeout: 0.5, down: 3, up: 3 };
    writeFileSync(
      this.configPath,
      JSON.stringify({
        globals: { hooks: this.hook, hookTimeout: 30 },
        interfaces: { wan1: { device: 'wan1', gateway: W1.gateway, track }, wan2: { device: 'wan2', gateway: W2.gateway, track } },
        policies: { balanced: { members: [{ interface: 'wan1' }, { interface: 'wan2' }] } },
        rules: [{ name: 'default', policy: 'balanced' }],
      }),
    );
    this.writeHook('exit 0\n');
  }

  writeHook(body: string, mode = 0o755): void {
    rmSync(this.hook, { force: true });
    writeFileSync(this.hook, `#!/bin/sh\n${body}`);
    chmodSync(this.hook, mode);
  }

  log(): string {
    return this.proc?.stderr() ?? '';
  }

  async start(): Promise<void> {
    await this.arena.stop(this.arena.configs[0] ?? '');
    this.proc = this.arena.spawn(process.execPath, [BIN, 'daemon', '--config', this.configPath, '--state-dir', this.stateDir, '--verbose']);
    const proc = this.proc;
    await this.arena.lab.waitFor(
      async () => {
        if (!proc.running) throw new Error(`daemon exited at start: ${firstLine(proc.stderr())}`);
        const s = await readState(this.stateDir);
        return s?.interfaces.wan1?.state === 'online' && s.interfaces.wan2?.state === 'online';
      },
      { timeoutMs: 20_000, what: 'the daemon with both WANs online' },
    );
  }

  async stop(): Promise<void> {
    await this.proc?.kill(10_000);
    this.proc = null;
    await this.arena.cli(['stop', '--config', this.configPath, '--state-dir', this.stateDir]);
  }

  /** Each WAN's state and since: what a repair must leave exactly as it was. */
  async tracking(): Promise<string> {
    const s = await readState(this.stateDir);
    return JSON.stringify(Object.entries(s?.interfaces ?? {}).map(([n, i]) => `${n} ${i.state} since ${i.since}`));
  }

  ifupdown(action: 'ifdown' | 'ifup', wan: string) {
    return this.arena.cli([action, wan, '--config', this.configPath, '--state-dir', this.stateDir]);
  }

  async waitOnline(wan: string): Promise<void> {
    await this.arena.lab.waitFor(async () => (await readState(this.stateDir))?.interfaces[wan]?.state === 'online', {
      timeoutMs: 20_000,
      what: `${wan} online`,
    });
  }
}

/** Breaks something of the daemon's, and measures how long until `back` holds again. */
function repairAttack(arena: Arena, rig: DaemonRig, name: string, breakIt: () => Promise<() => Promise<boolean>>): Attack {
  return {
    category: 'daemon',
    name,
    run: async () => {
      await sleep(500);
      const before = await rig.tracking();
      const back = await breakIt();
      const t0 = performance.now();
      try {
        await arena.lab.waitFor(back, { timeoutMs: 5_000, intervalMs: 5, what: 'the repair' });
      } catch {
        return fail('not restored within 5 s');
      }
      const ms = performance.now() - t0;
      await sleep(1_000);
      const after = await rig.tracking();
      await arena.addForeign();
      if (after !== before) return fail(`restored after ${ms.toFixed(0)} ms, but WAN states changed: ${before} -> ${after}`);
      if (ms > REPAIR_LIMIT_MS) return fail(`restored after ${ms.toFixed(0)} ms (limit ${REPAIR_LIMIT_MS})`);
      return pass(`restored after ${ms.toFixed(0)} ms; WAN states unchanged`);
    },
  };
}

const tableThere = async (arena: Arena) => (await arena.lab.exec('gw', 'nft', ['list', 'table', 'inet', 'nft_mwan'], { reject: false })).exitCode === 0;

export function repairAttacks(arena: Arena, rig: DaemonRig): Attack[] {
  const ownRules = async () => (await arena.lab.ip('gw', ['rule', 'show'])).stdout.split('\n').filter((l) => /lookup 10\d\d\b/.test(l));
  return [
    repairAttack(arena, rig, 'nft delete table inet nft_mwan: restored within 1 s', async () => {
      await arena.lab.exec('gw', 'nft', ['delete', 'table', 'inet', 'nft_mwan']);
      return () => tableThere(arena);
    }),
    repairAttack(arena, rig, 'nft flush ruleset (a firewall reload): restored within 1 s', async () => {
      await arena.lab.exec('gw', 'nft', ['flush', 'ruleset']);
      return () => tableThere(arena);
    }),
    repairAttack(arena, rig, 'a deleted fwmark rule: restored within 1 s', async () => {
      const rule = (await ownRules())[0] ?? '';
      await arena.lab.ip('gw', ['rule', 'del', 'pref', rule.slice(0, rule.indexOf(':'))]);
      return async () => (await ownRules()).includes(rule);
    }),
    repairAttack(arena, rig, "a deleted default route in a WAN's table: restored within 1 s", async () => {
      const table = /lookup (\d+)/.exec((await ownRules())[0] ?? '')?.[1] ?? '1001';
      const routes = async () => (await arena.lab.ip('gw', ['route', 'show', 'table', table])).stdout.trim();
      const before = await routes();
      await arena.lab.ip('gw', ['route', 'del', 'default', 'table', table]);
      return async () => (await routes()) === before;
    }),
  ];
}

/** Hooks root must not run: each is set up under the daemon's hook path, then wan2 is taken down and up. */
export function hookFileAttacks(arena: Arena, rig: DaemonRig): Attack[] {
  const ww = join(arena.work, 'ww-hooks');
  const trigger = async (ran: string): Promise<boolean> => {
    await rig.ifupdown('ifdown', 'wan2');
    await sleep(1_500);
    await rig.ifupdown('ifup', 'wan2');
    await sleep(500);
    return existsSync(ran);
  };
  const scenario = (name: string, prepare: (ran: string) => void, shouldRun = false): Attack => ({
    category: 'files',
    name: `hook: ${name}`,
    run: async () => {
      const ran = arena.canary();
      const logFrom = rig.log().length;
      prepare(ran);
      try {
        const didRun = await trigger(ran);
        const said = rig.log().slice(logFrom);
        if (shouldRun) return didRun ? pass('the trusted hook ran (control)') : fail(`the trusted hook did not run: ${firstLine(said)}`);
        if (didRun) return fail('the untrusted hook ran as root');
        const warning = said.split('\n').find((l) => /hooks: (not running|skipping)/.test(l));
        return warning ? pass(`not run: ${warning.replace(/^.*hooks: /, 'hooks: ').slice(0, 150)}`) : pass('not run (no warning seen)');
      } finally {
        chmodSync(rig.hookDir, 0o755);
        rmSync(ww, { recursive: true, force: true });
        rig.writeHook('exit 0\n');
        await rig.waitOnline('wan2');
      }
    },
  });
  const inWorldWritable = (ran: string) => {
    mkdirSync(ww, { recursive: true });
    chmodSync(ww, 0o777);
    const target = join(ww, 'evil');
    writeFileSync(target, `#!/bin/sh\ntouch ${ran}\n`);
    chmodSync(target, 0o755);
    return target;
  };
  return [
    scenario(
      'a trusted 0755 root hook (control)',
      (ran) => {
        rig.writeHook(`touch ${ran}\n`);
      },
      true,
    ),
    scenario('a 0666 hook', (ran) => {
      rig.writeHook(`touch ${ran}\n`, 0o666 | 0o111);
    }),
    scenario('a hook owned by nobody', (ran) => {
      rig.writeHook(`touch ${ran}\n`);
      chownSync(rig.hook, 65534, 65534);
    }),
    scenario('a hook in a world-writable, non-sticky directory (swappable)', (ran) => {
      rig.writeHook(`touch ${ran}\n`);
      chmodSync(rig.hookDir, 0o777);
    }),
    scenario('a hook swapped for a symlink to a file in a world-writable directory', (ran) => {
      const target = inWorldWritable(ran);
      rmSync(rig.hook, { force: true });
      symlinkSync(target, rig.hook);
    }),
  ];
}

const rssKiB = (pid: number, field: 'VmRSS' | 'VmHWM') => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

export function loudHookAttack(arena: Arena, rig: DaemonRig): Attack {
  return {
    category: 'daemon',
    name: 'a hook printing 20 MB on each stream: memory, log lines and probing bounded',
    run: async () => {
      const done = arena.canary();
      rig.writeHook(
        `[ "$INTERFACE" = wan2 ] || exit 0\nhead -c 20000000 /dev/zero | tr '\\0' x\nhead -c 20000000 /dev/zero | tr '\\0' y >&2\necho "$ACTION" >> ${done}\n`,
      );
      const pid = rig.proc?.pid ?? 0;
      const hwm0 = rssKiB(pid, 'VmHWM');
      const log0 = rig.log().length;
      try {
        await rig.ifupdown('ifdown', 'wan2');
        await arena.lab.waitFor(() => existsSync(done), { timeoutMs: 30_000, what: 'the loud hook to finish' });
        await sleep(1_500);
        const grewMiB = (rssKiB(pid, 'VmHWM') - hwm0) / 1024;
        const logged = rig.log().slice(log0);
        const longest = Math.max(0, ...logged.split('\n').map((l) => l.length));
        const wan1 = (await readState(rig.stateDir))?.interfaces.wan1?.state;
        const facts = `peak RSS +${grewMiB.toFixed(1)} MiB, log +${logged.length} chars, longest line ${longest}, wan1 ${String(wan1)}`;
        if (grewMiB > 48 || logged.length > 50_000 || longest > 2_000 || wan1 !== 'online') return fail(facts);
        return pass(facts);
      } finally {
        rig.writeHook('exit 0\n');
        await rig.ifupdown('ifup', 'wan2');
        await rig.waitOnline('wan2');
      }
    },
  };
}

export function nonRootAttack(arena: Arena, rig: DaemonRig): Attack {
  return {
    category: 'daemon',
    name: 'a daemon started as uid 65534 refuses at once',
    run: async (): Promise<Verdict> => {
      // A directory the user can read: the refusal must be for not being root, not for an unreadable config.
      const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-attacks-nonroot-'));
      chmodSync(dir, 0o755);
      const cfg = join(dir, 'config.json');
      writeFileSync(cfg, readFileSync(rig.configPath));
      const t0 = performance.now();
      const r = await arena.lab
        .exec(
          'gw',
          'setpriv',
          ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, 'daemon', '--config', cfg, '--state-dir', join(dir, 'state')],
          {
            reject: false,
            timeoutMs: 15_000,
          },
        )
        .finally(() => {
          rmSync(dir, { recursive: true, force: true });
        });
      const ms = performance.now() - t0;
      if (r.exitCode !== 77) return fail(`exit ${r.exitCode}, not 77 (EX_NOPERM, docs/errors.md): ${firstLine(r.stderr)}`);
      if (/started \(pid|restarting/.test(r.stderr)) return fail(`it started before refusing: ${firstLine(r.stderr)}`);
      if (ms > 5_000) return fail(`took ${ms.toFixed(0)} ms to refuse`);
      return pass(`exit ${r.exitCode} in ${ms.toFixed(0)} ms: ${firstLine(r.stderr)}`);
    },
  };
}
