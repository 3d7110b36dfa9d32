// Renders docs/nft-mwan.md into the man page dist/nft-mwan.8 with pandoc (`npm run man`; `npm run deb` runs it).
//
// pandoc rather than an npm markdown-to-roff converter: the page uses pandoc's definition lists (`term` then
// `: text`), numbered lists and inline code, which marked-man 2.1 renders as literal ": " lines, bullets and
// `&quot;` entities. pandoc is one apt package, needed only where the page is built (CI, `npm run deb`), not by
// `npm ci` or the tests. The date is the docs' last commit (or SOURCE_DATE_EPOCH): the same source, the same page.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../', import.meta.url).pathname;
const source = 'docs/nft-mwan.md';
const output = 'dist/nft-mwan.8';
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

function pageDate() {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  if (epoch && /^\d+$/.test(epoch)) return new Date(Number(epoch) * 1000).toISOString().slice(0, 10);
  try {
    const d = execFileSync('git', ['log', '-1', '--format=%cs', '--', source], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (d) return d;
  } catch {
    // Not a git checkout (an unpacked tarball): the file's own time.
  }
  return statSync(join(root, source)).mtime.toISOString().slice(0, 10);
}

mkdirSync(join(root, 'dist'), { recursive: true });
try {
  execFileSync(
    'pandoc',
    [
      '--standalone',
      '--from=markdown',
      '--to=man',
      // "# nft-mwan(8)" is the page's title (name and section), "## NAME" and the rest its sections.
      '--shift-heading-level-by=-1',
      `--metadata=date:${pageDate()}`,
      `--metadata=footer:nft-mwan ${version}`,
      "--metadata=header:System Manager's Manual",
      `--output=${output}`,
      source,
    ],
    { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] },
  );
} catch (error) {
  if (error.code === 'ENOENT') {
    console.error('man: pandoc is not installed: apt-get install pandoc (Debian/Ubuntu), then npm run man');
    process.exit(1);
  }
  process.exit(typeof error.status === 'number' ? error.status : 1);
}
console.log(`man: ${output} from ${source}`);
