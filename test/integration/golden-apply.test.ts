// Every golden batch goes through the real nft: accepted, read back identical, and re-applied on top of
// itself (a second compile that knows the installed table must apply too: sticky sets, counters, ids).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
import { BIN } from './helpers.js';

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
    rmSync(tmp, { recursive: true, force: true });
  });

  // CI runs this file again with NFT_MWAN_NFT=cli: the batches above go through the nft command either way, so this
  // apply is what shows the pass ran nft-mwan's nft the way the variable asks (the command, or libnftables in process).
  it(`nft-mwan apply -v runs nft ${process.env.NFT_MWAN_NFT === 'cli' ? 'as the command (NFT_MWAN_NFT=cli)' : 'in process'}`, async () => {
    const config = join(tmp, 'apply-config.json');
    writeFileSync(config, readFileSync(join(root, 'no-interfaces', 'config.json')));
    // The state of this apply stays in the test's own directory (env passes the test's NFT_MWAN_NFT on as it is).
    const r = await lab.exec('nft', 'env', [`NFT_MWAN_STATE_DIR=${join(tmp, 'state')}`, BIN, 'apply', '-v', '--config', config], {
      timeoutMs: 60_000,
      reject: false,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const inProcess = /^nft-mwan: debug: nft: in process through \S+ \(NFT_MWAN_NFT=(auto|lib)\)$/m;
    const commandApply = /^nft-mwan: debug: run: nft -j -f \/\S+$/m;
    const libraryApply = /^nft-mwan: debug: run: nft -j -f - \(libnftables\)$/m;
    if (process.env.NFT_MWAN_NFT === 'cli') {
      expect(r.stderr).toMatch(commandApply);
      expect(r.stderr).not.toMatch(/in process through|\(libnftables\)/);
    } else {
      expect(r.stderr).toMatch(inProcess);
      expect(r.stderr).toMatch(libraryApply);
      expect(r.stderr).not.toMatch(commandApply);
    }
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
