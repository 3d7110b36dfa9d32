// Vitest glue for namespace tests: run a suite where the lab works, skip it elsewhere, and fail it in CI rather than skip.
import { describe, it } from 'vitest';
import { labAvailable } from './prereqs.js';

let warned = false;

/**
 * describe() for suites that need the namespace lab. Without the prerequisites the suite is
 * skipped with a message naming what is missing, except in CI (CI=true), where a silently
 * skipped integration suite would look like a pass: there it fails with the same message.
 */
export function describeLab(name: string, fn: () => void): void {
  const { ok, missing } = labAvailable();
  if (ok) {
    describe(name, fn);
    return;
  }
  const why = `the namespace lab needs: ${missing.join(', ')}`;
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('has what the namespace lab needs', () => {
        throw new Error(`${why} (CI=true, so this fails instead of skipping)`);
      });
    });
    return;
  }
  if (!warned) {
    warned = true;
    console.warn(`skipping namespace tests: ${why}`);
  }
  describe.skip(`${name} (skipped: ${why})`, fn);
}
