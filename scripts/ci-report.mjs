// CI's closing lines: for a vitest pass that did not come out clean, the runner's own error sections, then a short
// account (failed and skipped tests by name, each error's first line), then the counts of every pass, last, so the
// end of the log says what went wrong.
// Usage: node scripts/ci-report.mjs NAME REPORT.json LOG [NAME REPORT.json LOG ...]. Exit 1 unless all is clean.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
if (args.length === 0 || args.length % 3 !== 0) {
  console.error('usage: ci-report.mjs NAME REPORT.json LOG [...]');
  process.exit(2);
}

// eslint-disable-next-line no-control-regex -- the runner's colours
const plain = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');
const read = (file) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
};

/** Lines of the runner's error sections repeated at most. */
const SECTION_LINES = 200;

/** The runner's own account of the failures: from its first "Failed ..." or "Unhandled Errors" banner to its summary. */
function failureSections(log) {
  const lines = plain(log).split('\n');
  const start = lines.findIndex((l) => /⎯+ (Failed (Suites|Tests)|Unhandled Errors?) \d*/.test(l));
  if (start < 0) return [];
  let end = lines.findIndex((l, i) => i > start && /^\s*Test Files\s/.test(l));
  if (end < 0) end = lines.length;
  const section = lines.slice(start, end);
  return section.length > SECTION_LINES
    ? [...section.slice(0, SECTION_LINES), `... (${section.length - SECTION_LINES} lines more above the summary)`]
    : section;
}

const sum = { passed: 0, failed: 0, skipped: 0 };
const problems = [];
for (let i = 0; i < args.length; i += 3) {
  const [name, reportFile, logFile] = args.slice(i, i + 3);
  const text = read(reportFile);
  let report = null;
  try {
    report = text === null ? null : JSON.parse(text);
  } catch {
    report = null;
  }
  if (report === null) {
    problems.push({ name, lines: [`no test report in ${reportFile}`], log: logFile });
    continue;
  }
  sum.passed += report.numPassedTests;
  sum.failed += report.numFailedTests;
  sum.skipped += report.numPendingTests + report.numTodoTests;
  const lines = [];
  if (report.numTotalTests === 0) lines.push('it ran no test');
  for (const file of report.testResults ?? []) {
    const failed = file.assertionResults.filter((a) => a.status === 'failed');
    const skipped = file.assertionResults.filter((a) => a.status !== 'passed' && a.status !== 'failed');
    if (file.status === 'failed' && failed.length === 0) {
      // A hook (beforeAll) or the file's own code threw: vitest reports the suite's tests as skipped, not failed.
      lines.push(`${file.name}: the file failed outside its tests (a hook or its top level); its tests did not run`);
    }
    for (const a of failed) lines.push(`FAILED  ${file.name} > ${a.fullName}`);
    for (const a of skipped) lines.push(`SKIPPED ${file.name} > ${a.fullName}`);
  }
  if (lines.length > 0) problems.push({ name, lines, log: logFile });
}

// The runner's sections first (long), then a short account and the counts: the end of the log is what is read.
const brief = [];
for (const p of problems) {
  const log = read(p.log);
  const sections = log === null ? [] : failureSections(log);
  if (sections.length > 0) console.log(`\n--- ${p.name}: what the runner printed about it ---\n${sections.join('\n')}`);
  brief.push(`=== ${p.name}: not clean ===`, ...p.lines.slice(0, 20));
  if (p.lines.length > 20) brief.push(`... (${p.lines.length - 20} more)`);
  // Each failure's heading and its error's first line.
  brief.push(
    ...sections
      .filter((l) => /^\s*(FAIL\s|\S*Error\b.*:)/.test(l))
      .slice(0, 16)
      .map((l) => `  ${l.trim().slice(0, 300)}`),
  );
}
if (brief.length > 0) console.log(`\n${brief.join('\n')}`);
console.log(`${sum.passed} passed, ${sum.failed} failed, ${sum.skipped} skipped`);
if (problems.length > 0) process.exitCode = 1;
