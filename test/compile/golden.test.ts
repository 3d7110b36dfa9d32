// Golden files: each folder under test/golden holds an input config and the exact plan it must compile to.
// UPDATE_GOLDEN=1 rewrites the expected files; a missing or unexpected file fails.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { type LinkStates, type SystemFacts, EMPTY_FACTS } from '../../src/model/facts.js';
import { validateConfig } from '../../src/config/validate.js';

const require = createRequire(import.meta.url);
const Ajv = require('ajv') as typeof import('ajv').default;
const batchSchema = JSON.parse(readFileSync(new URL('../../schema/nft-batch.schema.json', import.meta.url), 'utf8'));
const validateBatch = new Ajv({ allErrors: true, strict: false }).compile(batchSchema);

const root = new URL('../golden/', import.meta.url).pathname;
const INPUTS = ['config.json', 'facts.json', 'states.json'];
const OUTPUTS = ['batch.json', 'routing.json', 'summary.json'];
const update = process.env.UPDATE_GOLDEN === '1';

const read = (dir: string, f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as unknown;

describe('golden plans', () => {
  const cases = readdirSync(root).sort();
  it('has cases', () => expect(cases.length).toBeGreaterThanOrEqual(4));

  it.each(cases)('%s compiles to exactly its golden batch, routing and summary', (name) => {
    const dir = join(root, name);
    const unknown = readdirSync(dir).filter((f) => !INPUTS.includes(f) && !OUTPUTS.includes(f));
    expect(unknown, `unexpected files in ${dir}`).toEqual([]);
    const validated = validateConfig(read(dir, 'config.json'));
    if (!validated.ok) throw new Error(`${name}: invalid config: ${JSON.stringify(validated.issues)}`);
    const facts = existsSync(join(dir, 'facts.json')) ? (read(dir, 'facts.json') as SystemFacts) : EMPTY_FACTS;
    const states = existsSync(join(dir, 'states.json')) ? (read(dir, 'states.json') as LinkStates) : {};
    const plan = compile(validated.config, facts, states);

    expect(validateBatch(plan.nft), JSON.stringify(validateBatch.errors, null, 1)).toBe(true);

    const outputs: Record<string, unknown> = {
      'batch.json': plan.nft,
      'routing.json': plan.routing,
      'summary.json': { interfaces: plan.interfaces, policies: plan.policies, warnings: plan.warnings },
    };
    for (const [file, actual] of Object.entries(outputs)) {
      const path = join(dir, file);
      if (update) writeFileSync(path, `${JSON.stringify(actual, null, 2)}\n`);
      expect(existsSync(path), `${path} is missing (UPDATE_GOLDEN=1 creates it)`).toBe(true);
      expect(actual).toEqual(read(dir, file));
    }
  });
});
