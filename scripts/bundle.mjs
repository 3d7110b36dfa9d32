// Bundles the compiled CLI (dist/src/cli/main.js) and its dependencies (execa, ajv's runtime helpers) into ES modules:
// the entry dist/nft-mwan.mjs, which bin/nft-mwan loads, and its chunks in dist/chunks/ (all but koffi, the FFI package
// with a native binary). Node then reads and compiles a few files at start-up instead of some 200 modules, which takes
// about a third off every command's run time. Code splitting: each command is a dynamic import() of main.ts, so it is a
// chunk of its own with what only it uses (the daemon's probes, HTTP and timers; import-uci's parser...), and a command
// loads only the chunks it needs (Node's own modules too: an import of node:http is in the chunk that uses it). The
// licences of the bundled packages go beside them, in dist/THIRD-PARTY-LICENSES.
import { build } from 'esbuild';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const root = new URL('../', import.meta.url).pathname;
// A chunk's name carries a hash of its content: a rebuild must not leave stale ones behind (npm pack takes the folder).
await rm(join(root, 'dist/chunks'), { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { 'nft-mwan': 'dist/src/cli/main.js' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // jsonc-parser's default entry is a UMD build whose lazy require()s esbuild cannot follow: take its ES module build.
  mainFields: ['module', 'main'],
  // koffi loads its native build (node_modules/@koromix/koffi-PLATFORM) relative to its own files: it stays a package
  // beside the bundle (a dependency in package.json, node_modules in the .deb), imported on first use.
  external: ['koffi'],
  metafile: true,
  logLevel: 'warning',
  // Bundled CommonJS (cross-spawn and others) calls require() for Node's own modules (the banner is in every chunk).
  banner: { js: "import { createRequire as bundleRequire } from 'node:module'; const require = bundleRequire(import.meta.url);" },
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
  `dist/nft-mwan.mjs and dist/chunks/ bundle these packages (scripts/bundle.mjs):\n\n${sections.join(`\n${'-'.repeat(72)}\n\n`)}`,
);
