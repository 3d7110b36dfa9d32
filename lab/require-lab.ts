// Decides whether namespace integration tests can run here; under CI=true a missing prerequisite fails.
import { execaSync } from 'execa';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'vitest';

let cached: string[] | undefined;

/** What is missing for the lab (empty when it can run). */
export function labMissing(): string[] {
  if (cached) return cached;
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root privileges');
  for (const [tool, args] of [['ip', ['-V']], ['nft', ['--version']], ['conntrack', ['--version']], ['ping', ['-V']]] as const) {
    try {
      execaSync(tool, [...args]);
    } catch {
      missing.push(`the ${tool} command`);
    }
  }
  if (missing.length === 0) {
    const probe = `nmprobe${randomBytes(3).toString('hex')}`;
    try {
      execaSync('ip', ['netns', 'add', probe]);
      execaSync('ip', ['netns', 'del', probe]);
    } catch {
      missing.push('permission to create network namespaces');
    }
  }
  cached = missing;
  return missing;
}

/** describe() for namespace tests: skipped with a reason outside CI, a failure inside CI. */
export function describeLab(name: string, fn: () => void): void {
  const missing = labMissing();
  if (missing.length === 0) {
    describe(name, fn);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('has its prerequisites (CI never skips integration tests)', () => {
        throw new Error(`missing: ${missing.join(', ')}`);
      });
    });
  } else {
    console.warn(`skipping "${name}": missing ${missing.join(', ')}`);
    describe.skip(name, fn);
  }
}
