// Attacks without a daemon: bad configs, injection, concurrency, faults, foreign objects, untrusted files.
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { execaSync } from 'execa';
import type { ExecResult } from '../../lab/netns.js';
import { variant } from '../../lab/nft-faults.js';
import { type Arena, BIN, fail, firstLine, pass, sleep, type Verdict, W1 } from './arena.js';
import { badConfigs, baseConfig, injectionSites, payloads } from './configs.js';

export type Category = 'bad configs' | 'injection' | 'concurrency' | 'faults' | 'foreign objects' | 'files' | 'daemon';

export interface Attack {
  category: Category;
  name: string;
  run: () => Promise<Verdict>;
}

const JSON_PATH = /(^|[\s'"`(])\/[A-Za-z0-9_$.-]*(\/[^\s:]*)?(:|\s|$)/m;
const POSITION = /:\d+:\d+/;

/** Where the error points: a JSON path or FILE:LINE:COLUMN, the config's own path removed first. */
function locates(stderr: string, file: string): boolean {
  const text = stderr.replaceAll(file, 'FILE');
  return POSITION.test(text) || JSON_PATH.test(text);
}

/** Runs `act` and judges that nothing changed in the gateway's ruleset, rules and routes. */
async function unchanged(arena: Arena, act: () => Promise<ExecResult>, judge: (r: ExecResult) => Verdict): Promise<Verdict> {
  const before = await arena.snapshot();
  const r = await act();
  const verdict = judge(r);
  if (!verdict.ok) return verdict;
  const after = await arena.snapshot();
  if (after !== before) return fail(`exit ${r.exitCode} but the ruleset, rules or routes changed: ${firstDifference(before, after)}`);
  return verdict;
}

/** The first line that differs, both ways, for a failure's reason. */
export function firstDifference(before: string, after: string): string {
  const a = before.split('\n');
  const b = after.split('\n');
  const i = a.findIndex((line, k) => line !== b[k]);
  const at = i === -1 ? a.length : i;
  return `line ${at + 1}: ${JSON.stringify(a[at] ?? '(none)')} -> ${JSON.stringify(b[at] ?? '(none)')}`;
}

/** The line of an error that says where: FILE:LINE:COLUMN or a JSON path. */
function locationLine(stderr: string): string {
  const lines = stderr.split('\n');
  const line = lines.find((l) => POSITION.test(l)) ?? lines.find((l) => JSON_PATH.test(l)) ?? lines[0] ?? '';
  return line.trim().slice(0, 160);
}

export function badConfigAttacks(arena: Arena): Attack[] {
  return badConfigs().map(({ name, content }) => ({
    category: 'bad configs',
    name,
    run: async () => {
      const file = arena.next(typeof content === 'string' || Buffer.isBuffer(content) ? content : JSON.stringify(content, null, 2));
      try {
        return await unchanged(
          arena,
          () => arena.apply(file),
          (r) => {
            if (r.exitCode !== 78) return fail(`exit ${r.exitCode}, not 78: ${firstLine(r.stderr)}`);
            if (!locates(r.stderr, file)) return fail(`exit 78 without a JSON path or FILE:LINE:COLUMN: ${firstLine(r.stderr)}`);
            return pass(locationLine(r.stderr.replaceAll(file, 'FILE')));
          },
        );
      } finally {
        rmSync(file, { force: true });
      }
    },
  }));
}

export function injectionAttacks(arena: Arena): Attack[] {
  const attacks: Attack[] = [];
  const sites = injectionSites();
  const kinds = payloads('C').length;
  sites.forEach((site, i) => {
    // The device and interface names (they reach nft and ip as names) get every payload; the other strings a rotating third.
    const all = i < 2;
    for (let k = 0; k < kinds; k++) {
      if (!all && (k + i) % 3 !== 0) continue;
      const token = arena.token();
      const [kind, payload] = payloads(token)[k] ?? ['', ''];
      attacks.push({
        category: 'injection',
        name: `${site.name}: ${kind}`,
        run: async () => {
          const file = arena.next(site.build(payload));
          const foreign = await arena.foreign();
          const r = await arena.apply(file);
          const after = await arena.foreign();
          if (arena.ran(token)) return fail(`the payload ran a command (exit ${r.exitCode})`);
          if (after !== foreign) return fail(`exit ${r.exitCode} and a foreign object changed`);
          if (r.exitCode === 0) return pass('accepted, handled as data; nothing foreign changed');
          if (r.exitCode === 78) return pass(`refused: ${firstLine(r.stderr.replaceAll(file, 'FILE'))}`);
          return fail(`exit ${r.exitCode}: ${firstLine(r.stderr)}`);
        },
      });
    }
  });
  return attacks;
}

export function concurrencyAttacks(arena: Arena): Attack[] {
  const attacks: Attack[] = [];
  for (let round = 0; round < 5; round++) {
    attacks.push({
      category: 'concurrency',
      name: `round ${round + 1}: 8 parallel applies of 5 different configs`,
      run: async () => {
        const order: number[] = [];
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) => {
            const n = (i + round) % arena.configs.length;
            return arena.apply(arena.configs[n] ?? '').then((r) => {
              order.push(n);
              return r;
            });
          }),
        );
        const bad = results.filter((r) => r.exitCode !== 0);
        if (bad.length > 0) return fail(`${bad.length} of 8 exited non-zero: ${firstLine(bad[0]?.stderr ?? '')}`);
        const last = order.at(-1) ?? -1;
        const installed = await arena.installed();
        if (installed !== last) return fail(`the last to finish was config ${last}, the table is config ${String(installed)}`);
        return arena.upToDate(last);
      },
    });
  }
  for (let round = 0; round < 3; round++) {
    attacks.push({
      category: 'concurrency',
      name: `round ${round + 1}: two apply --try together`,
      run: async () => {
        const base = await arena.apply(arena.configs[0] ?? '');
        if (base.exitCode !== 0) return fail(`setup apply failed: ${firstLine(base.stderr)}`);
        const tries = [1, 2].map((n) =>
          arena.spawn(process.execPath, [BIN, 'apply', '--config', arena.configs[n] ?? '', '--try', '30', '--state-dir', arena.stateDir]),
        );
        try {
          await arena.lab.waitFor(() => tries.every((p) => !p.running || /applied on trial/.test(p.stderr())), {
            timeoutMs: 30_000,
            what: 'both tries to decide',
          });
          const pending = tries.filter((p) => p.running);
          const refused = tries.filter((p) => !p.running);
          if (pending.length !== 1) return fail(`${pending.length} tries pending, ${refused.length} ended`);
          const ended = refused[0];
          if (!ended || !/another try is pending/.test(ended.stderr())) return fail(`the refused try said: ${firstLine(ended?.stderr() ?? '')}`);
          const n = tries.findIndex((p) => p === pending[0]) + 1;
          if ((await arena.installed()) !== n) return fail(`the pending try is config ${n}, the table is ${String(await arena.installed())}`);
          await pending[0]?.kill();
          await arena.lab.waitFor(async () => (await arena.installed()) === 0, { timeoutMs: 15_000, what: 'the rollback to config 0' });
          const v = await arena.upToDate(0);
          return v.ok ? pass('one pending, the other refused (TRY_REFUSED); Ctrl-C rolled back whole') : v;
        } finally {
          await Promise.all(tries.map((p) => p.kill()));
        }
      },
    });
  }
  for (let round = 0; round < 4; round++) {
    attacks.push({
      category: 'concurrency',
      name: `round ${round + 1}: apply and stop together`,
      run: async () => {
        const n = 1 + (round % 4);
        const cfg = arena.configs[n] ?? '';
        const [a, s] = await Promise.all([arena.apply(cfg), sleep(round * 80).then(() => arena.stop(cfg))]);
        if (a.exitCode !== 0 || s.exitCode !== 0) return fail(`apply exited ${a.exitCode}, stop ${s.exitCode}: ${firstLine(a.stderr + s.stderr)}`);
        const installed = await arena.installed();
        const own = await arena.ownRouting();
        if (installed === null) {
          return own.rules + own.routes === 0 ? pass('stop won whole') : fail(`no table but ${own.rules} rules and ${own.routes} routes left`);
        }
        const v = await arena.upToDate(n);
        return v.ok ? pass('apply won whole') : v;
      },
    });
  }
  return attacks;
}

/** After a fault: the next command must repair; the one after it must find nothing to do. */
async function nextIsWhole(arena: Arena, n: number, expect?: RegExp): Promise<Verdict> {
  const r = await arena.apply(arena.configs[n] ?? '');
  if (r.exitCode !== 0) return fail(`the next apply exited ${r.exitCode}: ${firstLine(r.stderr)}`);
  if (expect && !expect.test(r.stderr)) return fail(`the next apply did not say ${String(expect)}: ${firstLine(r.stderr)}`);
  const v = await arena.upToDate(n);
  if (!v.ok) return v;
  if (existsSync(join(arena.stateDir, 'apply-intent.json'))) return fail('the intent journal is still there');
  return pass(`config ${n} whole after the next command`);
}

export function faultAttacks(arena: Arena): Attack[] {
  const attacks: Attack[] = [];
  const setup = async (from: number) => {
    rmSync(arena.marker, { force: true });
    const r = await arena.apply(arena.configs[from] ?? '');
    if (r.exitCode !== 0) throw new Error(`setup apply of config ${from} exited ${r.exitCode}: ${firstLine(r.stderr)}`);
  };
  const pairs: [number, number][] = [
    [0, 2],
    [1, 4],
    [3, 0],
  ];
  for (const [from, to] of pairs) {
    attacks.push({
      category: 'faults',
      name: `nft exits 1 after committing (config ${from} -> ${to})`,
      run: async () => {
        await setup(from);
        const [file, args] = arena.standIn('fail', ['apply', '--config', arena.configs[to] ?? '', '--state-dir', arena.stateDir]);
        const r = await arena.lab.exec('gw', file, args, { timeoutMs: 90_000, reject: false });
        if (!existsSync(arena.marker)) return fail('the stand-in nft never committed');
        if (/nothing was changed/.test(r.stderr)) return fail('said "nothing was changed" after a commit');
        const installed = await arena.installed();
        if (r.exitCode === 0 && installed !== to) return fail(`exit 0 but config ${String(installed)} is installed`);
        return nextIsWhole(arena, to);
      },
    });
  }
  attacks.push({
    category: 'faults',
    name: 'nft hangs past its timeout after committing (config 0 -> 2)',
    run: async () => {
      await setup(0);
      const [file, args] = arena.standIn('hang', ['apply', '--config', arena.configs[2] ?? '', '--state-dir', arena.stateDir]);
      const r = await arena.lab.exec('gw', file, args, { timeoutMs: 90_000, reject: false });
      if (/nothing was changed/.test(r.stderr)) return fail('said "nothing was changed" after a commit');
      return nextIsWhole(arena, 2);
    },
  });
  for (const [mode, when] of [
    ['sleep-after', 'after'],
    ['sleep-before', 'before'],
  ] as const) {
    for (const [from, to] of pairs) {
      attacks.push({
        category: 'faults',
        name: `kill -9 of the CLI ${when} the nft commit (config ${from} -> ${to}), then apply ${from}`,
        run: async () => {
          await setup(from);
          const [file, args] = arena.standIn(mode, ['apply', '--config', arena.configs[to] ?? '', '--state-dir', arena.stateDir]);
          const p = arena.spawn(file, args);
          try {
            await arena.lab.waitFor(() => existsSync(arena.marker), { timeoutMs: 30_000, what: 'the stand-in nft to run' });
            process.kill(p.pid, 'SIGKILL');
            await p.exited;
          } finally {
            await p.kill();
          }
          return nextIsWhole(arena, from);
        },
      });
    }
  }
  // kill -9 at spread-out moments of an ordinary apply (one takes a few hundred ms); the next command is an apply or a stop.
  for (let i = 0; i < 32; i++) {
    const from = i % 5;
    const to = (i * 2 + 1) % 5;
    const delay = 10 + i * 10;
    const then = i % 3 === 2 ? 'stop' : 'apply';
    attacks.push({
      category: 'faults',
      name: `kill -9 of apply ${from} -> ${to} after ${delay} ms, then ${then}`,
      run: async () => {
        await setup(from);
        const p = arena.spawn(process.execPath, [BIN, 'apply', '--config', arena.configs[to] ?? '', '--state-dir', arena.stateDir]);
        await sleep(delay);
        const killed = p.running;
        if (killed) process.kill(p.pid, 'SIGKILL');
        await p.exited;
        const how = killed ? 'killed' : 'finished before the kill';
        if (then === 'apply') {
          const v = await nextIsWhole(arena, to);
          return { ok: v.ok, reason: `${how}; ${v.reason}` };
        }
        const s = await arena.stop(arena.configs[to] ?? '');
        if (s.exitCode !== 0) return fail(`${how}; stop exited ${s.exitCode}: ${firstLine(s.stderr)}`);
        const own = await arena.ownRouting();
        if ((await arena.installed()) !== null || own.rules + own.routes > 0) {
          return fail(`${how}; after stop: table ${String(await arena.installed())}, ${own.rules} rules, ${own.routes} routes`);
        }
        return pass(`${how}; stop removed everything of ours`);
      },
    });
  }
  // kill -9 of a stop mid-way: the next apply must install whole.
  for (let i = 0; i < 6; i++) {
    const delay = 20 + i * 30;
    attacks.push({
      category: 'faults',
      name: `kill -9 of stop after ${delay} ms, then apply`,
      run: async () => {
        await setup(1);
        const p = arena.spawn(process.execPath, [BIN, 'stop', '--config', arena.configs[1] ?? '', '--state-dir', arena.stateDir]);
        await sleep(delay);
        const killed = p.running;
        if (killed) process.kill(p.pid, 'SIGKILL');
        await p.exited;
        const v = await nextIsWhole(arena, 1);
        return { ok: v.ok, reason: `${killed ? 'killed' : 'finished before the kill'}; ${v.reason}` };
      },
    });
  }
  return attacks;
}

export function foreignAttacks(arena: Arena): Attack[] {
  const fw4Config = arena.file('fw4.json', variant(9, ['wan1', 'wan2'], { table: 'fw4' }));
  const attacks: Attack[] = [];
  for (const args of [['apply'], ['apply', '--try', '30'], ['stop'], ['check']]) {
    attacks.push({
      category: 'foreign objects',
      name: `globals.table = fw4: ${args.join(' ')}`,
      run: async () => {
        const fw4 = await arena.foreign();
        const stateDir = args[0] === 'check' ? [] : ['--state-dir', arena.stateDir];
        const r = await arena.cli([...args, '--config', fw4Config, ...stateDir], 20_000);
        if ((await arena.foreign()) !== fw4) return fail(`exit ${r.exitCode} and fw4 (or another foreign object) changed`);
        if (args[0] === 'check') return r.exitCode === 0 ? pass('check passes (fw4 is only known at apply)') : pass(`check refuses: ${firstLine(r.stderr)}`);
        if (r.exitCode === 0) return fail(`${args.join(' ')} exited 0 with table fw4`);
        if (!/table inet fw4 exists and was not made by nft-mwan/.test(r.stderr)) return fail(`refused, but said: ${firstLine(r.stderr)}`);
        return pass('refused; fw4 untouched');
      },
    });
  }
  attacks.push({
    category: 'foreign objects',
    name: 'a foreign unmarked table inet nft_mwan: apply and stop leave it',
    run: async () => {
      await arena.stop(arena.configs[0] ?? '');
      await arena.lab.nft('gw', 'table inet nft_mwan {\n chain mine { type filter hook input priority 5; policy accept; }\n}\n');
      try {
        const before = await arena.snapshot();
        const a = await arena.apply(arena.configs[0] ?? '');
        const s = await arena.stop(arena.configs[0] ?? '');
        if ((await arena.snapshot()) !== before) return fail(`apply exited ${a.exitCode}, stop ${s.exitCode}, and the state changed`);
        return a.exitCode !== 0 ? pass(`apply refused: ${firstLine(a.stderr)}`) : fail('apply exited 0 over a foreign table of our name');
      } finally {
        await arena.lab.exec('gw', 'nft', ['delete', 'table', 'inet', 'nft_mwan'], { reject: false });
      }
    },
  });
  attacks.push({
    category: 'foreign objects',
    name: 'routeProtocol 16 (dhcp): apply, re-apply, stop; the foreign proto dhcp route in table 300 stays',
    run: async () => {
      const dhcp = arena.file('dhcp.json', variant(7, ['wan1', 'wan2'], { routeProtocol: 16 }));
      const foreign = await arena.foreign();
      const a = await arena.apply(dhcp);
      if (a.exitCode !== 0) return fail(`apply exited ${a.exitCode}: ${firstLine(a.stderr)}`);
      const again = await arena.apply(dhcp);
      if (!/already up to date/.test(again.stderr)) return fail(`its own proto dhcp rules were not recognised: ${firstLine(again.stderr)}`);
      const s = await arena.stop(dhcp);
      if (s.exitCode !== 0) return fail(`stop exited ${s.exitCode}`);
      const own = await arena.ownRouting();
      if (own.rules + own.routes > 0) return fail(`stop left ${own.rules} rules and ${own.routes} routes`);
      if ((await arena.foreign()) !== foreign) return fail('a foreign object changed (the dhcp route?)');
      return pass('all of ours removed, the dhcp route and every foreign object kept');
    },
  });
  attacks.push({
    category: 'foreign objects',
    name: 'a foreign route in our table 1001: apply and stop keep it',
    run: async () => {
      await arena.stop(arena.configs[0] ?? '');
      const route = ['198.18.0.0/15', 'via', W1.gateway, 'dev', W1.dev, 'table', '1001', 'proto', 'static'];
      await arena.lab.ip('gw', ['route', 'add', ...route]);
      try {
        const a = await arena.apply(arena.configs[0] ?? '');
        const s = await arena.stop(arena.configs[0] ?? '');
        const left = (await arena.lab.ip('gw', ['route', 'show', 'table', '1001'])).stdout;
        if (!left.includes('198.18.0.0/15')) return fail(`apply ${a.exitCode} / stop ${s.exitCode} deleted the foreign proto static route`);
        return pass(`kept${/warn|foreign/i.test(a.stderr) ? ', with a warning' : ' (no warning printed)'}`);
      } finally {
        await arena.lab.ip('gw', ['route', 'del', '198.18.0.0/15', 'table', '1001'], { reject: false });
      }
    },
  });
  attacks.push({
    category: 'foreign objects',
    name: 'a foreign fwmark rule overlapping the mask: apply and stop keep it',
    run: async () => {
      await arena.lab.ip('gw', ['rule', 'add', 'fwmark', '0x100/0x300', 'lookup', '4343', 'pref', '4343']);
      try {
        const a = await arena.apply(arena.configs[0] ?? '');
        const s = await arena.stop(arena.configs[0] ?? '');
        const left = (await arena.lab.ip('gw', ['rule', 'show'])).stdout;
        if (!left.includes('4343:')) return fail(`apply ${a.exitCode} / stop ${s.exitCode} deleted the foreign fwmark rule`);
        return pass(`kept${/warn|overlap/i.test(a.stderr) ? ', with a warning' : ' (no warning printed)'}`);
      } finally {
        await arena.lab.ip('gw', ['rule', 'del', 'pref', '4343'], { reject: false });
      }
    },
  });
  for (const n of [0, 1, 2]) {
    attacks.push({
      category: 'foreign objects',
      name: `apply config ${n} then stop: fw4, the foreign rule and route, the main table unchanged; nothing of ours left`,
      run: async () => {
        const foreign = await arena.foreign();
        const a = await arena.apply(arena.configs[n] ?? '');
        if (a.exitCode !== 0) return fail(`apply exited ${a.exitCode}: ${firstLine(a.stderr)}`);
        if ((await arena.foreign()) !== foreign) return fail('apply changed a foreign object');
        const s = await arena.stop(arena.configs[n] ?? '');
        if (s.exitCode !== 0) return fail(`stop exited ${s.exitCode}`);
        if ((await arena.foreign()) !== foreign) return fail('stop changed a foreign object');
        const own = await arena.ownRouting();
        if ((await arena.installed()) !== null || own.rules + own.routes > 0) return fail('stop left something of ours');
        return pass('only ours removed');
      },
    });
  }
  return attacks;
}

export function fileAttacks(arena: Arena): Attack[] {
  const good = JSON.stringify(baseConfig());
  const refusedBy = (what: string, prepare: () => string, cleanup: () => void): Attack[] =>
    ['check', 'apply'].map((cmd) => ({
      category: 'files' as const,
      name: `${what}: ${cmd}`,
      run: async () => {
        const file = prepare();
        try {
          const t0 = performance.now();
          return await unchanged(
            arena,
            () => arena.cli([cmd, '--config', file, ...(cmd === 'check' ? [] : ['--state-dir', arena.stateDir])], 15_000),
            (r) => {
              const ms = performance.now() - t0;
              if (r.exitCode === 0) return fail(`${cmd} accepted it`);
              if (r.exitCode === 2) return fail(`harness: usage error: ${firstLine(r.stderr)}`);
              return pass(`refused in ${ms.toFixed(0)} ms (exit ${r.exitCode}): ${firstLine(r.stderr.replaceAll(file, 'FILE'))}`);
            },
          );
        } catch (error) {
          return fail(`${cmd} did not finish: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
        } finally {
          cleanup();
        }
      },
    }));
  const fifo = join(arena.work, 'fifo.json');
  const ww = join(arena.work, 'world-writable');
  const gw = join(arena.work, 'group-writable');
  const link = join(arena.work, 'linked.json');
  return [
    ...refusedBy(
      'a FIFO as the config',
      () => {
        execaSync('mkfifo', [fifo]);
        return fifo;
      },
      () => {
        rmSync(fifo, { force: true });
      },
    ),
    ...refusedBy(
      'a config in a world-writable, non-sticky directory',
      () => {
        mkdirSync(ww, { recursive: true });
        chmodSync(ww, 0o777);
        return arena.file('world-writable/config.json', good);
      },
      () => {
        rmSync(ww, { recursive: true, force: true });
      },
    ),
    ...refusedBy(
      'a config in a group-writable directory',
      () => {
        mkdirSync(gw, { recursive: true });
        chmodSync(gw, 0o775);
        return arena.file('group-writable/config.json', good);
      },
      () => {
        rmSync(gw, { recursive: true, force: true });
      },
    ),
    ...refusedBy(
      'a 0666 config',
      () => {
        const f = arena.file('open.json', good);
        chmodSync(f, 0o666);
        return f;
      },
      () => {
        rmSync(join(arena.work, 'open.json'), { force: true });
      },
    ),
    ...refusedBy(
      'a config owned by nobody',
      () => {
        const f = arena.file('nobody.json', good);
        chownSync(f, 65534, 65534);
        return f;
      },
      () => {
        rmSync(join(arena.work, 'nobody.json'), { force: true });
      },
    ),
    ...refusedBy(
      'a symlinked config whose target is in a world-writable directory',
      () => {
        mkdirSync(ww, { recursive: true });
        chmodSync(ww, 0o777);
        arena.file('world-writable/target.json', good);
        rmSync(link, { force: true });
        symlinkSync(join(ww, 'target.json'), link);
        return link;
      },
      () => {
        rmSync(link, { force: true });
        rmSync(ww, { recursive: true, force: true });
      },
    ),
  ];
}
