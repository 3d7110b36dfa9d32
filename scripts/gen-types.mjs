// Generates from schema/config.schema.json (never edit the outputs by hand): src/generated/config.ts, the
// config's types, and src/generated/config-validator.ts, ajv's validator as standalone code, so that no
// command compiles the schema at run time (that alone took ~150 ms of every `nft-mwan apply`).
// `--check` exits 1 when a committed file is stale instead of writing it.
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { compile } from 'json-schema-to-typescript';

const require = createRequire(import.meta.url);
const Ajv = require('ajv').default;
const standaloneCode = require('ajv/dist/standalone').default;

const root = new URL('../', import.meta.url);
const schemaUrl = new URL('schema/config.schema.json', root);
const outUrl = new URL('src/generated/config.ts', root);
const validatorUrl = new URL('src/generated/config-validator.ts', root);

const schema = JSON.parse(await readFile(schemaUrl, 'utf8'));
const banner = '// GENERATED from schema/config.schema.json by scripts/gen-types.mjs: do not edit by hand.';
const ts = await compile(schema, 'NftMwanConfig', {
  bannerComment: banner,
  additionalProperties: false,
  style: { singleQuote: true, printWidth: 120 },
});

// The same options src/config/validate.ts reads errors with; esm code still require()s ajv's runtime helpers.
const ajv = new Ajv({ allErrors: true, strict: true, verbose: true, code: { source: true, esm: true } });
const validator = [
  '// GENERATED from schema/config.schema.json by scripts/gen-types.mjs (ajv standalone code): do not edit by hand.',
  '// @ts-nocheck',
  ...esmRequires(standaloneCode(ajv, ajv.compile(schema))),
  '',
].join('\n');

/**
 * ajv's esm code still require()s its runtime helpers (e.g. ucs2length, for minLength): each becomes an
 * import, so the bundler sees it and the bundled CLI needs no node_modules at run time.
 */
function esmRequires(code) {
  const specifiers = [...new Set([...code.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]))];
  // CommonJS with __esModule: Node's default import is module.exports, a bundler's or vitest's may be its
  // .default; either way `runtimeN.default` is the helper, as ajv's code expects.
  const imports = specifiers.flatMap((s, i) => [
    `import * as runtime${i}Module from ${JSON.stringify(`${s}.js`)};`,
    `const runtime${i} = { default: runtime${i}Module.default?.default ?? runtime${i}Module.default };`,
  ]);
  const body = specifiers.reduce((c, s, i) => c.replaceAll(`require(${JSON.stringify(s)})`, `runtime${i}`), code);
  if (/\brequire\(/.test(body)) throw new Error("gen-types: a require() in ajv's standalone code was not turned into an import");
  return [...imports, body];
}

const outputs = [
  [outUrl, ts],
  [validatorUrl, validator],
];
if (process.argv.includes('--check')) {
  for (const [url, text] of outputs) {
    const current = await readFile(url, 'utf8').catch(() => '');
    if (current !== text) {
      console.error(`${url.pathname.slice(root.pathname.length)} is stale: run \`npm run gen:types\``);
      process.exitCode = 1;
    }
  }
} else {
  for (const [url, text] of outputs) await writeFile(url, text);
}
