// The lab's signal hook: a signal that interrupts a lab removes its namespaces and says so; the SIGTERM a test
// runner sends its finished workers (labs already torn down) passes silently, as it is no news.
import { execa } from 'execa';
import { expect, it } from 'vitest';
import { listNamespaces, newPrefix } from '../../lab/netns.js';
import { describeLab } from '../../lab/vitest.js';

// The built lab (npm run build:scripts): the child is plain node, as a test runner's worker is.
const NETNS = new URL('../../dist/lab/netns.js', import.meta.url).href;

/** A node process that builds a lab with one namespace, tears it down or not, then gets SIGTERM. */
function child(prefix: string, tearDown: boolean) {
  const script = `
    const { Lab } = await import(${JSON.stringify(NETNS)});
    const lab = new Lab({ prefix: ${JSON.stringify(prefix)} });
    await lab.addNamespace('a');
    ${tearDown ? 'await lab.teardown();' : ''}
    process.kill(process.pid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 10_000));
  `;
  return execa(process.execPath, ['--input-type=module', '-e', script], { reject: false, timeout: 30_000 });
}

describeLab('the lab on a signal', () => {
  it('says nothing when every lab was already torn down (a finished test file)', async () => {
    const prefix = newPrefix();
    const r = await child(prefix, true);
    expect(r.exitCode).toBe(143);
    expect(r.stderr).toBe('');
    expect(listNamespaces().filter((n) => n.startsWith(`${prefix}-`))).toEqual([]);
  });

  it('removes the namespaces of a lab it interrupts, and says so', async () => {
    const prefix = newPrefix();
    const r = await child(prefix, false);
    expect(r.exitCode).toBe(143);
    expect(r.stderr).toBe('lab: SIGTERM arrived: removing the namespaces of 1 lab(s) still up');
    expect(listNamespaces().filter((n) => n.startsWith(`${prefix}-`))).toEqual([]);
  });
});
