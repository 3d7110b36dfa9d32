// Generates src/generated/config.ts from schema/config.schema.json (never edit the output by hand).
// `--check` exits 1 when the committed file is stale instead of writing it.
import { readFile, writeFile } from 'node:fs/promises';
import { compile } from 'json-schema-to-typescript';

const root = new URL('../', import.meta.url);
const schemaUrl = new URL('schema/config.schema.json', root);
const outUrl = new URL('src/generated/config.ts', root);

const schema = JSON.parse(await readFile(schemaUrl, 'utf8'));
const banner = '// GENERATED from schema/config.schema.json by scripts/gen-types.mjs: do not edit by hand.';
const ts = await compile(schema, 'NftMwanConfig', {
  bannerComment: banner,
  additionalProperties: false,
  style: { singleQuote: true, printWidth: 120 },
});

if (process.argv.includes('--check')) {
  const current = await readFile(outUrl, 'utf8').catch(() => '');
  if (current !== ts) {
    console.error('src/generated/config.ts is stale: run `npm run gen:types`');
    process.exit(1);
  }
} else {
  await writeFile(outUrl, ts);
}
