// User hooks: which files run (and which are refused as unsafe), the environment they get, and that a failing or
// hanging hook is logged and, at its timeout, killed with everything it started, never thrown.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hookAction, hookEnv, hookPrograms, runHooks, runMwan3User, type HookEvent } from '../../src/daemon/hooks.js';
import { HOOK_OUTPUT_KEPT, StreamTail } from '../../src/daemon/hook-process.js';
import type { LinkState } from '../../src/model/facts.js';
import type { Reason } from '../../src/model/tracking.js';

const isRoot = process.getuid?.() === 0;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nft-mwan-hooks-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function recorder() {
  const info: string[] = [];
  const warn: string[] = [];
  return { info, warn, log: { info: (m: string) => info.push(m), warn: (m: string) => warn.push(m) } };
}

function script(path: string, body: string, mode = 0o755): string {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, mode);
  return path;
}

const event: HookEvent = { action: 'disconnected', interface: 'wan1', device: 'eth1', family: 'ipv6', state: 'offline', reason: 'probes' };

/** True while the process exists and is not a zombie waiting to be reaped. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('hookPrograms', () => {
  it('a single executable file is the hook', async () => {
    const file = script(join(dir, 'hook'), 'true');
    const { log, warn } = recorder();
    expect(await hookPrograms(file, log)).toEqual([file]);
    expect(warn).toEqual([]);
  });

  it("a directory's executables run in name order; non-executables and subdirectories are skipped", async () => {
    script(join(dir, 'b-second'), 'true');
    script(join(dir, 'c-third'), 'true');
    script(join(dir, 'a-first'), 'true');
    script(join(dir, 'README'), 'not a hook', 0o644);
    mkdirSync(join(dir, 'd-subdir'), { mode: 0o755 });
    const { log, warn } = recorder();
    expect(await hookPrograms(dir, log)).toEqual([join(dir, 'a-first'), join(dir, 'b-second'), join(dir, 'c-third')]);
    expect(warn).toEqual([]);
  });

  it.each([
    ['group-writable', 0o775],
    ['other-writable', 0o757],
    ['group- and other-writable', 0o777],
  ])('refuses a %s hook with a warning', async (_what, mode) => {
    script(join(dir, 'a-ok'), 'true');
    const bad = script(join(dir, 'b-unsafe'), 'true', mode);
    const { log, warn } = recorder();
    expect(await hookPrograms(dir, log)).toEqual([join(dir, 'a-ok')]);
    expect(warn).toHaveLength(1);
    expect(warn[0]).toContain(`skipping ${bad}`);
    expect(warn[0]).toMatch(/owned by root and not writable by group or others/);
  });

  it.runIf(isRoot)('refuses a hook owned by another user when running as root', async () => {
    const bad = script(join(dir, 'hook'), 'true');
    chownSync(bad, 1000, 1000);
    const { log, warn } = recorder();
    expect(await hookPrograms(bad, log)).toEqual([]);
    expect(warn).toEqual([expect.stringContaining(`skipping ${bad}`)]);
  });

  it.each([
    ['group-writable', 0o775],
    ['other-writable', 0o757],
    ['other-writable even with the sticky bit (anyone could add a hook)', 0o1777],
  ])('runs nothing from a %s directory, and says why', async (_what, mode) => {
    const hooks = join(dir, 'hooks.d');
    mkdirSync(hooks);
    script(join(hooks, '10-ok'), 'true');
    chmodSync(hooks, mode);
    const { log, warn } = recorder();
    expect(await hookPrograms(hooks, log)).toEqual([]);
    expect(warn).toEqual([`hooks: not running the hooks in ${hooks}: the directory must be owned by root and not writable by group or others`]);
  });

  it.runIf(isRoot)('runs nothing from a directory owned by another user when running as root', async () => {
    const hooks = join(dir, 'hooks.d');
    mkdirSync(hooks, { mode: 0o755 });
    script(join(hooks, '10-ok'), 'true');
    chownSync(hooks, 1000, 1000);
    const { log, warn } = recorder();
    expect(await hookPrograms(hooks, log)).toEqual([]);
    expect(warn).toEqual([expect.stringContaining(`not running the hooks in ${hooks}`)]);
  });

  it.each<[string, (target: string, targetDir: string) => void, boolean]>([
    ['a safe file in a safe directory', () => undefined, true],
    ['a group-writable file', (t) => chmodSync(t, 0o775), false],
    ['a file in an other-writable directory (it could be replaced)', (_t, d) => chmodSync(d, 0o757), false],
    ['a file in a sticky other-writable directory, like /tmp (only its owner can replace it)', (_t, d) => chmodSync(d, 0o1777), true],
  ])('a symlink in the hooks directory runs only if it points to %s', async (_what, spoil, runs) => {
    const hooks = join(dir, 'hooks.d');
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(hooks, { mode: 0o755 });
    mkdirSync(elsewhere, { mode: 0o755 });
    const target = script(join(elsewhere, 'real-hook'), 'true');
    symlinkSync(target, join(hooks, '10-link'));
    spoil(target, elsewhere);
    const { log, warn } = recorder();
    expect(await hookPrograms(hooks, log)).toEqual(runs ? [join(hooks, '10-link')] : []);
    expect(warn).toEqual(
      runs
        ? []
        : [
            `hooks: skipping ${join(hooks, '10-link')}: it links to ${target}, which (and its directory) must be owned by root and not writable by group or others`,
          ],
    );
  });

  it.runIf(isRoot)('a symlink to a file owned by another user is skipped when running as root', async () => {
    const hooks = join(dir, 'hooks.d');
    mkdirSync(hooks, { mode: 0o755 });
    const target = script(join(dir, 'theirs'), 'true');
    chownSync(target, 1000, 1000);
    symlinkSync(target, join(hooks, '10-link'));
    const { log, warn } = recorder();
    expect(await hookPrograms(hooks, log)).toEqual([]);
    expect(warn).toEqual([expect.stringContaining(`skipping ${join(hooks, '10-link')}: it links to ${target}`)]);
  });

  it('a dangling symlink runs nothing', async () => {
    const hooks = join(dir, 'hooks.d');
    mkdirSync(hooks, { mode: 0o755 });
    symlinkSync(join(dir, 'gone'), join(hooks, '10-link'));
    const { log } = recorder();
    expect(await hookPrograms(hooks, log)).toEqual([]);
  });

  it('a missing path runs nothing and says so', async () => {
    const { log, warn } = recorder();
    expect(await hookPrograms(join(dir, 'nope'), log)).toEqual([]);
    expect(warn).toEqual([expect.stringContaining(`${join(dir, 'nope')} does not exist`)]);
  });
});

describe('hookAction', () => {
  it.each<[string, LinkState, LinkState, Reason, HookEvent['action']]>([
    ['probes failing take a WAN out', 'online', 'offline', 'probes', 'disconnected'],
    ['probes answering bring it back', 'offline', 'online', 'probes', 'connected'],
    ['carrier lost while online', 'online', 'down', 'carrier', 'ifdown'],
    ['carrier lost while offline', 'offline', 'down', 'carrier', 'ifdown'],
    ['carrier back on a tracked link (probes not yet good)', 'down', 'offline', 'carrier', 'ifup'],
    ['carrier back on an untracked link', 'down', 'online', 'carrier', 'ifup'],
    ['nft-mwan ifdown', 'online', 'offline', 'operator', 'ifdown'],
    ['nft-mwan ifup', 'offline', 'online', 'operator', 'ifup'],
  ])('%s: %s -> %s is %s', (_what, from, to, reason, action) => {
    expect(hookAction(from, to, reason)).toBe(action);
  });
});

describe('hookEnv', () => {
  it('gives the mwan3 names, the NFT_MWAN_* variables and a PATH, nothing else', () => {
    expect(hookEnv(event)).toEqual({
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      ACTION: 'disconnected',
      INTERFACE: 'wan1',
      DEVICE: 'eth1',
      FAMILY: 'ipv6',
      NFT_MWAN_ACTION: 'disconnected',
      NFT_MWAN_INTERFACE: 'wan1',
      NFT_MWAN_DEVICE: 'eth1',
      NFT_MWAN_FAMILY: 'ipv6',
      NFT_MWAN_STATE: 'offline',
      NFT_MWAN_REASON: 'probes',
    });
  });
});

describe('runHooks', () => {
  it('passes the event in the environment', async () => {
    const out = join(dir, 'env.txt');
    const hook = script(join(dir, 'hook'), `env > '${out}'`);
    const { log, info, warn } = recorder();
    await runHooks(hook, event, 5, log);
    const env = Object.fromEntries(
      readFileSync(out, 'utf8')
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(env).toMatchObject(hookEnv(event));
    expect(warn).toEqual([]);
    expect(info).toEqual([expect.stringContaining(`hook ${hook} (disconnected wan1) done`)]);
  });

  it("runs a directory's hooks one after the other in name order", async () => {
    const out = join(dir, 'order.txt');
    const hooks = join(dir, 'hooks.d');
    mkdirSync(hooks);
    script(join(hooks, '20-second'), `sleep 0.2; echo second >> '${out}'`);
    script(join(hooks, '10-first'), `sleep 0.3; echo first >> '${out}'`);
    script(join(hooks, '30-third'), `echo third >> '${out}'`);
    const { log } = recorder();
    await runHooks(hooks, event, 5, log);
    expect(readFileSync(out, 'utf8')).toBe('first\nsecond\nthird\n');
  });

  it('logs a failing hook with its exit code and last output, does not throw, and runs the next one', async () => {
    const hooks = join(dir, 'hooks.d');
    mkdirSync(hooks);
    const failing = script(join(hooks, '10-fail'), 'echo "cannot reach the VPN" >&2; exit 3');
    const next = script(join(hooks, '20-ok'), 'echo fine');
    const { log, info, warn } = recorder();
    await expect(runHooks(hooks, event, 5, log)).resolves.toBeUndefined();
    expect(warn).toHaveLength(1);
    expect(warn[0]).toContain(`hook ${failing} (disconnected wan1) failed`);
    expect(warn[0]).toMatch(/exit code 3/);
    expect(warn[0]).toMatch(/cannot reach the VPN/);
    expect(info).toEqual([`hook ${next} (disconnected wan1) done: fine`]);
  });

  it('kills a hook that outlives its timeout, together with the child it started', async () => {
    const pidFile = join(dir, 'child.pid');
    const hook = script(join(dir, 'hook'), `sleep 30 &\necho $! > '${pidFile}'\nwait`);
    const { log, info, warn } = recorder();
    const started = Date.now();
    await runHooks(hook, event, 0.5, log);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(1500);
    expect(warn).toEqual([`hook ${hook} (disconnected wan1) killed after 0.5 s`]);
    expect(info).toEqual([]);
    expect(existsSync(pidFile)).toBe(true);
    const child = Number(readFileSync(pidFile, 'utf8'));
    // Reparented to init once the shell is gone; give it a moment to be reaped.
    for (let i = 0; i < 20 && running(child); i++) await new Promise((r) => setTimeout(r, 50));
    expect(running(child)).toBe(false);
  });

  it('kills a hook stuck in a foreground sleep', async () => {
    const hook = script(join(dir, 'hook'), 'sleep 30');
    const { log, warn } = recorder();
    const started = Date.now();
    await runHooks(hook, event, 0.5, log);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(warn).toEqual([`hook ${hook} (disconnected wan1) killed after 0.5 s`]);
  });

  it('a missing hook path is a warning, not an error', async () => {
    const { log, warn } = recorder();
    await expect(runHooks(join(dir, 'nope'), event, 1, log)).resolves.toBeUndefined();
    expect(warn).toEqual([expect.stringContaining('does not exist')]);
  });
});

describe('runMwan3User', () => {
  const user = (mode: number, out: string) => script(join(dir, 'mwan3.user'), `echo "$ACTION $INTERFACE $DEVICE" >> '${out}'`, mode);

  it('sources the file with ACTION, INTERFACE and DEVICE (it need not be executable)', async () => {
    const out = join(dir, 'out.txt');
    const file = user(0o644, out);
    const { log, warn } = recorder();
    await runMwan3User(file, { ...event, action: 'connecting' }, 5, log);
    expect(readFileSync(out, 'utf8')).toBe('connecting wan1 eth1\n');
    expect(warn).toEqual([]);
  });

  it.each([
    ['group-writable', 0o664],
    ['other-writable', 0o646],
  ])('refuses a %s mwan3.user: not run, and says why', async (_what, mode) => {
    const out = join(dir, 'out.txt');
    const file = user(mode, out);
    const { log, warn } = recorder();
    await runMwan3User(file, event, 5, log);
    expect(existsSync(out)).toBe(false);
    expect(warn).toEqual([`mwan3User: skipping ${file}: it must be owned by root and not writable by group or others`]);
  });

  it.runIf(isRoot)('refuses an mwan3.user owned by another user when running as root', async () => {
    const out = join(dir, 'out.txt');
    const file = user(0o644, out);
    chownSync(file, 1000, 1000);
    const { log, warn } = recorder();
    await runMwan3User(file, event, 5, log);
    expect(existsSync(out)).toBe(false);
    expect(warn).toEqual([expect.stringContaining(`mwan3User: skipping ${file}`)]);
  });
});

describe('hooks: bounded output and what is killed at the timeout', () => {
  it('keeps the last 64 KiB of each stream of a hook printing 20 MB on each, logs one bounded line and counts what was dropped', async () => {
    const size = 20_000_000;
    const hook = script(join(dir, 'hook'), `head -c ${size} /dev/zero | tr '\\0' x\nhead -c ${size} /dev/zero | tr '\\0' y >&2`);
    const { log, info, warn } = recorder();
    await runHooks(hook, event, 30, log);
    expect(warn).toEqual([]);
    expect(info).toHaveLength(1);
    const line = info[0] ?? '';
    expect(line).not.toContain('\n');
    expect(line.length).toBeLessThan(2_000);
    expect(line).toContain(`${size - HOOK_OUTPUT_KEPT} bytes of stdout, ${size - HOOK_OUTPUT_KEPT} bytes of stderr`);
    // The tail is what is shown: the last line, cut, of each stream.
    expect(line).toMatch(/x{200}\.\.\. \(65536 characters\) \| y{200}\.\.\. \(65536 characters\)/);
  });

  it('control characters in the output do not break the log line', async () => {
    const hook = script(join(dir, 'hook'), `printf 'one\\rtwo\\033[2Jthree\\n'`);
    const { log, info } = recorder();
    await runHooks(hook, event, 5, log);
    expect(info).toEqual([`hook ${hook} (disconnected wan1) done: one?two?[2Jthree`]);
  });

  it('StreamTail keeps the last bytes and counts the rest, whatever the chunk sizes', () => {
    const t = new StreamTail(8);
    for (const c of ['abc', 'defgh', 'ij', 'klmnopqrstuvwxyz', '12']) t.push(Buffer.from(c));
    expect(t.text()).toBe('uvwxyz12');
    expect(t.dropped).toBe(28 - 8);
  });

  it('kills at the timeout the hook, a child in its group and a child that left the group with setsid', async () => {
    const grp = join(dir, 'grp.pid');
    const esc = join(dir, 'esc.pid');
    const hook = script(
      join(dir, 'hook'),
      [
        `setsid sh -c 'echo $$ > "${esc}"; exec sleep 30' </dev/null >/dev/null 2>&1 &`,
        `sleep 30 &`,
        `echo $! > '${grp}'`,
        // The setsid child has written its pid (and left the group) before the timeout.
        `while [ ! -s '${esc}' ]; do sleep 0.01; done`,
        'wait',
      ].join('\n'),
    );
    const { log, warn } = recorder();
    await runHooks(hook, event, 0.5, log);
    const pids = [Number(readFileSync(grp, 'utf8')), Number(readFileSync(esc, 'utf8'))];
    const escaped = pids[1] ?? 0;
    // It did leave the hook's process group: a group kill alone would not reach it.
    expect(warn).toEqual([`hook ${hook} (disconnected wan1) killed after 0.5 s, and 1 process it had started outside its group`]);
    for (let i = 0; i < 20 && pids.some(running); i++) await new Promise((r) => setTimeout(r, 50));
    expect(pids.filter(running)).toEqual([]);
    expect(escaped).toBeGreaterThan(0);
  });

  it('the mark is all that finds an escaped process: one that clears its environment survives (documented)', async () => {
    const esc = join(dir, 'esc.pid');
    const hook = script(
      join(dir, 'hook'),
      `setsid env -i sh -c 'echo $$ > "${esc}"; exec sleep 30' </dev/null >/dev/null 2>&1 &\nwhile [ ! -s '${esc}' ]; do sleep 0.01; done\nsleep 30`,
    );
    const { log } = recorder();
    await runHooks(hook, event, 0.5, log);
    const pid = Number(readFileSync(esc, 'utf8'));
    try {
      expect(running(pid)).toBe(true);
    } finally {
      process.kill(pid, 'SIGKILL');
    }
  });
});

describe.runIf(isRoot)('hooks: the whole path is checked, as configs are', () => {
  it.each([
    ['a single-file hook', false],
    ['a hook directory', true],
  ])('%s in a world-writable, non-sticky directory is refused', async (_what, isDir) => {
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const out = join(dir, 'ran');
    let path = script(join(open, 'hook'), `echo ran > '${out}'`);
    if (isDir) {
      path = join(open, 'hooks.d');
      mkdirSync(path, { mode: 0o755 });
      script(join(path, '10-hook'), `echo ran > '${out}'`);
    }
    const { log, warn } = recorder();
    expect(await hookPrograms(path, log)).toEqual([]);
    await runHooks(path, event, 5, log);
    expect(existsSync(out)).toBe(false);
    expect(warn[0]).toContain(`hooks: not running ${path}: directory ${open} is writable by anyone (mode 777) and not sticky`);
  });

  it('an mwan3.user in a world-writable, non-sticky directory is refused', async () => {
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const out = join(dir, 'ran');
    const file = script(join(open, 'mwan3.user'), `echo ran > '${out}'`, 0o644);
    const { log, warn } = recorder();
    await runMwan3User(file, event, 5, log);
    expect(existsSync(out)).toBe(false);
    expect(warn).toEqual([expect.stringContaining(`mwan3User: skipping ${file}: directory ${open} is writable by anyone`)]);
  });

  it('a sticky world-writable directory (as /tmp) is accepted', async () => {
    const sticky = join(dir, 'sticky');
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    const hook = script(join(sticky, 'hook'), 'true');
    const { log } = recorder();
    expect(await hookPrograms(hook, log)).toEqual([hook]);
  });
});

describe.runIf(isRoot)('hooks: a symlink in a hook directory', () => {
  it("is skipped when a directory above its target (not only the target's own) is world-writable and not sticky", async () => {
    const open = join(dir, 'open');
    mkdirSync(join(open, 'safe'), { recursive: true, mode: 0o755 });
    chmodSync(open, 0o777);
    const target = script(join(open, 'safe', 'target'), 'true');
    const hooks = join(dir, 'hooks.d');
    mkdirSync(hooks, { mode: 0o755 });
    symlinkSync(target, join(hooks, '10-link'));
    const { log, warn } = recorder();
    expect(await hookPrograms(hooks, log)).toEqual([]);
    expect(warn).toEqual([expect.stringContaining(`skipping ${join(hooks, '10-link')}: it links to ${target}: directory ${open} is writable by anyone`)]);
  });
});
