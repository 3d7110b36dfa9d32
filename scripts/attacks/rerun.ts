// Re-runs issue 17's attack categories against nft-mwan, only inside namespaces of its own lab, and reports tried/passed per category.
// Run as root: node dist/scripts/attacks/rerun.js [--out FILE] [--markdown FILE] [--only CATEGORY[,CATEGORY]] [--budget SECONDS]
import { rmSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { parseArgs } from 'node:util';
import { withLab } from '../../lab/netns.js';
import { Arena, fail, type Verdict } from './arena.js';
import { DaemonRig, hookFileAttacks, loudHookAttack, nonRootAttack, repairAttacks } from './daemon.js';
import { type Attack, badConfigAttacks, type Category, concurrencyAttacks, faultAttacks, fileAttacks, foreignAttacks, injectionAttacks } from './static.js';

const CATEGORIES: Category[] = ['bad configs', 'injection', 'concurrency', 'faults', 'foreign objects', 'files', 'daemon'];
const ATTACK_TIMEOUT_MS = 120_000;

interface Result {
  category: Category;
  name: string;
  ok: boolean;
  reason: string;
  ms: number;
}

interface Options {
  out: string;
  only: Set<Category>;
  budgetMs: number;
  markdown: string | undefined;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: 'attacks-result.json' },
      only: { type: 'string' },
      budget: { type: 'string', default: '660' },
      markdown: { type: 'string' },
    },
  });
  const only = values.only === undefined ? CATEGORIES : values.only.split(',').map((c) => c.trim());
  for (const c of only) if (!CATEGORIES.includes(c as Category)) throw new Error(`unknown category "${c}"; categories: ${CATEGORIES.join(', ')}`);
  return { out: values.out, only: new Set(only as Category[]), budgetMs: Number(values.budget) * 1000, markdown: values.markdown };
}

async function runOne(attack: Attack): Promise<Result> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  let verdict: Verdict;
  try {
    verdict = await Promise.race([
      attack.run(),
      new Promise<Verdict>(
        (resolve) =>
          (timer = setTimeout(() => {
            resolve(fail(`harness: no verdict within ${ATTACK_TIMEOUT_MS} ms`));
          }, ATTACK_TIMEOUT_MS)),
      ),
    ]);
  } catch (error) {
    verdict = fail(`harness error: ${(error instanceof Error ? error.message : String(error)).split('\n')[0] ?? ''}`);
  } finally {
    clearTimeout(timer);
  }
  return { category: attack.category, name: attack.name, ...verdict, ms: Math.round(performance.now() - t0) };
}

function table(results: Result[], skipped: Map<Category, number>): string {
  const rows = CATEGORIES.map((c) => {
    const mine = results.filter((r) => r.category === c);
    return { c, tried: mine.length, passed: mine.filter((r) => r.ok).length, skipped: skipped.get(c) ?? 0 };
  }).filter((r) => r.tried + r.skipped > 0);
  const total = {
    c: 'total' as const,
    tried: results.length,
    passed: results.filter((r) => r.ok).length,
    skipped: [...skipped.values()].reduce((a, b) => a + b, 0),
  };
  const lines = ['| category | tried | passed |', '|---|---:|---:|'];
  for (const r of [...rows, total]) lines.push(`| ${r.c} | ${r.tried} | ${r.passed} |${r.skipped > 0 ? ` (${r.skipped} not run: time budget)` : ''}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: the attacks build network namespaces');
  const opts = options();
  const started = Date.now();
  const results: Result[] = [];
  const skipped = new Map<Category, number>();
  let nftVersion = '';

  await withLab(async (lab) => {
    const arena = new Arena(lab);
    try {
      await arena.build();
      nftVersion = (await lab.exec('gw', 'nft', ['--version'])).stdout.trim();
      const base = await arena.apply(arena.configs[0] ?? '');
      if (base.exitCode !== 0) throw new Error(`the first apply failed, nothing to attack: ${base.stderr}`);
      const run = async (attacks: Attack[]) => {
        for (const attack of attacks) {
          if (!opts.only.has(attack.category)) continue;
          if (Date.now() - started > opts.budgetMs) {
            skipped.set(attack.category, (skipped.get(attack.category) ?? 0) + 1);
            continue;
          }
          const r = await runOne(attack);
          results.push(r);
          process.stdout.write(`${r.ok ? 'pass' : 'FAIL'} [${r.category}] ${r.name} (${r.ms} ms): ${r.reason}\n`);
        }
      };
      await run([
        ...badConfigAttacks(arena),
        ...injectionAttacks(arena),
        ...concurrencyAttacks(arena),
        ...faultAttacks(arena),
        ...foreignAttacks(arena),
        ...fileAttacks(arena),
      ]);
      await arena.stop(arena.configs[0] ?? '');
      if (opts.only.has('daemon') || opts.only.has('files')) {
        const rig = new DaemonRig(arena);
        await rig.start();
        try {
          await run([...repairAttacks(arena, rig), ...hookFileAttacks(arena, rig), loudHookAttack(arena, rig)]);
        } finally {
          await rig.stop();
        }
        await run([nonRootAttack(arena, rig)]);
      }
    } finally {
      rmSync(arena.work, { recursive: true, force: true });
    }
  });

  const summary = table(results, skipped);
  const failures = results.filter((r) => !r.ok);
  process.stdout.write(`\n${summary}\n\n${failures.length} failure(s)${failures.length > 0 ? ':' : ''}\n`);
  for (const f of failures) process.stdout.write(`- [${f.category}] ${f.name}: ${f.reason}\n`);
  const report = {
    date: new Date(started).toISOString(),
    nftVersion,
    kernel: release(),
    seconds: Math.round((Date.now() - started) / 1000),
    categories: CATEGORIES.map((c) => ({
      category: c,
      tried: results.filter((r) => r.category === c).length,
      passed: results.filter((r) => r.category === c && r.ok).length,
      notRun: skipped.get(c) ?? 0,
    })),
    failures,
    attacks: results,
  };
  writeFileSync(opts.out, `${JSON.stringify(report, null, 2)}\n`);
  if (opts.markdown !== undefined) {
    const md = [
      `Run on ${report.date.slice(0, 10)} (${report.seconds} s), ${nftVersion}, kernel ${report.kernel}.`,
      '',
      summary,
      '',
      failures.length === 0 ? 'No failures.' : 'Failures:',
      ...failures.map((f) => `- [${f.category}] ${f.name}: ${f.reason}`),
      '',
    ].join('\n');
    writeFileSync(opts.markdown, md);
  }
  process.stdout.write(`\nwritten to ${opts.out} (${report.seconds} s)\n`);
  if (failures.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`attacks: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 2;
});
