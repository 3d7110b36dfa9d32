// Every golden batch goes through the real nft: accepted, read back identical, and re-applied on top of
// itself (a second compile that knows the installed table must apply too: sticky sets, counters, ids).
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Lab } from '../../lab/netns.js';
import { describeLab } from '../../lab/vitest.js';
import { compile } from '../../src/compile/compile.js';
import { EMPTY_FACTS, type LinkStates, type SystemFacts } from '../../src/model/facts.js';
import { diffPlan } from '../../src/compile/verify.js';
import { validateConfig } from '../../src/config/validate.js';
import { tableFacts } from '../../src/engine/discover.js';

const root = new URL('../golden/', import.meta.url).pathname;
const read = (dir: string, f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as unknown;

describeLab('golden batches through nft', () => {
  const lab = new Lab();
  const tmp = mkdtempSync(join(tmpdir(), 'nft-mwan-golden-'));

  beforeAll(async () => {
    await lab.addNamespace('nft');
  });
  afterAll(async () => {
    await lab.teardown();
  });

  it.each(readdirSync(root).sort())('%s', async (name) => {
    const dir = join(root, name);
    const v = validateConfig(read(dir, 'config.json'));
    if (!v.ok) throw new Error(JSON.stringify(v.issues));
    const facts = existsSync(join(dir, 'facts.json')) ? (read(dir, 'facts.json') as SystemFacts) : EMPTY_FACTS;
    const states = existsSync(join(dir, 'states.json')) ? (read(dir, 'states.json') as LinkStates) : {};
    const table = v.config.globals?.table ?? 'nft_mwan';
    const list = async () => {
      const r = await lab.exec('nft', 'nft', ['-j', 'list', 'table', 'inet', table]);
      return (JSON.parse(r.stdout) as { nftables: Record<string, unknown>[] }).nftables.filter((o) => !('metainfo' in o) && !('table' in o));
    };
    const applyPlan = async (facts2: SystemFacts) => {
      const plan = compile(v.config, facts2, states);
      const file = join(tmp, `${name}.json`);
      writeFileSync(file, JSON.stringify(plan.nft));
      await lab.exec('nft', 'nft', ['-j', '-f', file]);
      expect(diffPlan(plan, await list())).toEqual([]);
    };
    await lab.exec('nft', 'nft', ['delete', 'table', 'inet', table], { reject: false });
    // A fresh table first: what a golden case says was installed before is not there in this namespace.
    const { installed: _i, installedSets: _s, ...fresh } = facts;
    await applyPlan(fresh);
    await applyPlan({ ...facts, ...tableFacts(await list()) });
  });
});
