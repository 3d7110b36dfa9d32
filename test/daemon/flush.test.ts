// Carrying out the ledger's conntrack deletions: all of a WAN's connections, or only its unanswered ones; skipped once it moved on.
import { describe, expect, it } from 'vitest';
import { runFlushes } from '../../src/daemon/flush.js';
import type { FlushOrder } from '../../src/daemon/ledger.js';
import type { Runner } from '../../src/system/runner.js';

function conntrack(fail = false) {
  const calls: string[] = [];
  const run: Runner = async (file, args) => {
    calls.push([file, ...args].join(' '));
    if (fail) return { stdout: '', stderr: 'conntrack: operation failed\n', exitCode: 1 };
    if (args[0] === '-L') return { stdout: '', stderr: '', exitCode: 0 };
    return { stdout: '', stderr: 'conntrack v1.4.7 (conntrack-tools): 3 flow entries have been deleted.\n', exitCode: 0 };
  };
  return { run, calls };
}

describe('runFlushes', () => {
  const orders: FlushOrder[] = [
    { name: 'wan1', mark: 0x100, to: 'offline', trigger: 'offline', all: false },
    { name: 'wan2', mark: 0x200, to: 'online', trigger: 'online', all: true },
  ];

  it('one WAN after the other: unanswered TCP attempts and UDP flows for one, all entries of its mark for the other', async () => {
    const { run, calls } = conntrack();
    const lines: string[] = [];
    const log = { debug: () => undefined, info: (m: string) => lines.push(m), warn: (m: string) => lines.push(`warn: ${m}`), error: () => undefined };
    await runFlushes(run, orders, 0x3f00, (n) => (n === 'wan1' ? 'offline' : 'online'), log);
    expect(calls).toEqual(['conntrack -D -p tcp --state SYN_SENT -m 0x100/0x3f00', 'conntrack -L -p udp -m 0x100/0x3f00', 'conntrack -D -m 0x200/0x3f00']);
    expect(lines).toEqual([
      'wan1: deleted 3 unanswered TCP connection attempts marked for it (SYN_SENT), so they are balanced again',
      'wan2: deleted 3 conntrack entries marked for it (flushConntrack online)',
    ]);
  });

  it('a WAN whose state moved on since the apply is skipped', async () => {
    const { run, calls } = conntrack();
    const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
    await runFlushes(run, orders, 0x3f00, () => 'down', quiet);
    expect(calls).toEqual([]);
  });

  it('a failing conntrack is a warning per WAN, and the next WAN is still flushed', async () => {
    const { run, calls } = conntrack(true);
    const warnings: string[] = [];
    const log = { debug: () => undefined, info: () => undefined, warn: (m: string) => warnings.push(m), error: () => undefined };
    await runFlushes(run, orders, 0x3f00, (n) => (n === 'wan1' ? 'offline' : 'online'), log);
    expect(calls).toHaveLength(2);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^wan1: deleting its unanswered connection attempts failed: /);
    expect(warnings[1]).toMatch(/^wan2: conntrack flush failed: /);
  });
});
