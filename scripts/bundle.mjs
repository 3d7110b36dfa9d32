// Bundles the compiled CLI (dist/src/cli/main.js) and its dependencies (execa, ajv's runtime helpers) into ONE CommonJS
// script, dist/nft-mwan.cjs (all but koffi, the FFI package with a native binary), which bin/nft-mwan compiles with V8's
// code cache (see there). One script: Node resolves and reads one file instead of some 200 modules, and a code cache
// made after a run holds every function that run compiled, so the next run of that command compiles almost nothing.
// Each command is a dynamic import() in main.ts: in one script esbuild makes it a lazily run module, so a command
// still runs only the code it uses (the daemon's probes, HTTP and timers; import-uci's parser...). The licences of
// the bundled packages go beside it, in dist/THIRD-PARTY-LICENSES.
import { build } from 'esbuild';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const root = new URL('../', import.meta.url).pathname;
// The split bundle of earlier builds (an entry module and its chunks) must not linger beside the script.
await rm(join(root, 'dist/chunks'), { recursive: true, force: true });
await rm(join(root, 'dist/nft-mwan.mjs'), { force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: ['dist/src/cli/main.js'],
  outfile: 'dist/nft-mwan.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // jsonc-parser's default entry is a UMD build whose lazy require()s esbuild cannot follow: take its ES module build.
  mainFields: ['module', 'main'],
  // koffi loads its native build (node_modules/@koromix/koffi-PLATFORM) relative to its own files: it stays a package
  // beside the bundle (a dependency in package.json, node_modules in the .deb), required on first use.
  external: ['koffi'],
  // The one import.meta of the sources (main.ts finds package.json from it): the script's own URL.
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  metafile: true,
  logLevel: 'warning',
});

// Every package that has a file in the bundle, by its directory under node_modules.
const packages = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  if (m) packages.add(m[1]);
}
const sections = [];
for (const name of [...packages].sort()) {
  const dir = join(root, 'node_modules', name);
  const { version, license } = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
  const file = (await readdir(dir)).find((f) => /^(licen[sc]e|copying)(\.|$)/i.test(f));
  if (!file) throw new Error(`bundle: ${name} ships no licence file`);
  sections.push(`${name} ${version} (${license})\n\n${(await readFile(join(dir, file), 'utf8')).trim()}\n`);
}
await writeFile(
  join(root, 'dist/THIRD-PARTY-LICENSES'),
  `dist/nft-mwan.cjs bundles these packages (scripts/bundle.mjs):\n\n${sections.join(`\n${'-'.repeat(72)}\n\n`)}`,
);
