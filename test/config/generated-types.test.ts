// The config types and the standalone validator are generated from the schema: a hand edit or a stale file fails here.
import { execa } from 'execa';
import { expect, it } from 'vitest';

it('src/generated/config.ts and config-validator.ts are exactly what json-schema-to-typescript and ajv generate from schema/config.schema.json', async () => {
  const r = await execa('node', [new URL('../../scripts/gen-types.mjs', import.meta.url).pathname, '--check'], { reject: false });
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
});
