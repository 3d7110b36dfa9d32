// PingSession against a stand-in `ping` (first in PATH) that prints what iputils ping -O prints, on its
// schedule: an echo left unanswered is judged missed `timeout` after it went out, not only when ping
// reports it as the next echo goes out; each echo gets one verdict.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PingSession, type EchoResult } from '../../src/track/ping-session.js';

let dir: string;
let path: string | undefined;
let session: PingSession | null = null;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nft-mwan-ping-'));
  path = process.env.PATH;
  process.env.PATH = `${dir}:${path ?? ''}`;
});
afterEach(() => {
  session?.stop();
  session = null;
  process.env.PATH = path;
  rmSync(dir, { recursive: true, force: true });
});

/** A `ping` that prints `script` (shell lines) and then waits. */
function fakePing(script: string): void {
  writeFileSync(join(dir, 'ping'), `#!/bin/sh\necho "PING 192.0.2.1 (192.0.2.1) from 198.51.100.2 wan1: 56(84) bytes of data."\n${script}\nexec sleep 30\n`);
  chmodSync(join(dir, 'ping'), 0o755);
}

function run(interval: number, timeout: number) {
  const verdicts: { seq: number; at: number; r: EchoResult }[] = [];
  session = new PingSession('192.0.2.1', { device: 'wan1', mark: 0x100, address: '198.51.100.2' }, interval, timeout, (_gen, seq, r) =>
    verdicts.push({ seq, at: performance.now(), r }),
  );
  session.start();
  return verdicts;
}

async function until(what: string, f: () => boolean, timeoutMs = 5_000): Promise<void> {
  const t0 = Date.now();
  while (!f()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('PingSession: verdicts by the timeout', () => {
  it('an unanswered echo is judged missed timeout after it was sent, before ping reports it; one verdict per echo', async () => {
    // interval 1 s: echo 1 answered at once, echo 2 (sent at 1 s) never; ping reports it at 2 s, as echo 3 goes out.
    fakePing(
      [
        'echo "64 bytes from 192.0.2.1: icmp_seq=1 ttl=64 time=1.00 ms"',
        'sleep 2',
        'echo "no answer yet for icmp_seq=2"',
        'sleep 0.5',
        'echo "64 bytes from 192.0.2.1: icmp_seq=3 ttl=64 time=500 ms"',
      ].join('\n'),
    );
    const verdicts = run(1, 0.2);
    await until('three verdicts', () => verdicts.length >= 3);
    await new Promise((r) => setTimeout(r, 300));
    const [first, second, third] = verdicts as [(typeof verdicts)[0], (typeof verdicts)[0], (typeof verdicts)[0]];
    expect(verdicts.map((v) => v.seq)).toEqual([1, 2, 3]);
    expect(first.r).toEqual({ ok: true, rttMs: 1, error: null });
    expect(second.r).toEqual({ ok: false, rttMs: null, error: 'no reply within 200 ms' });
    // Echo 2 went out 1 s after echo 1: judged 0.2 s (plus a little slack) after that, not at 2 s.
    const after = (second.at - first.at) / 1000;
    expect(after).toBeGreaterThanOrEqual(1.15);
    expect(after).toBeLessThan(1.7);
    // Echo 3 was judged missed by its deadline too: its reply after 500 ms comes too late to count.
    expect(third.r).toEqual({ ok: false, rttMs: null, error: 'no reply within 200 ms' });
  });

  it('a reply within the timeout is a success, a slower one that beats the deadline is a failure with its time', async () => {
    fakePing(['echo "64 bytes from 192.0.2.1: icmp_seq=1 ttl=64 time=150 ms"', 'echo "64 bytes from 192.0.2.1: icmp_seq=2 ttl=64 time=250 ms"'].join('\n'));
    const verdicts = run(1, 0.2);
    await until('two verdicts', () => verdicts.length >= 2);
    expect(verdicts.map((v) => [v.seq, v.r.ok, v.r.error])).toEqual([
      [1, true, null],
      [2, false, 'reply after 250 ms (timeout 200 ms)'],
    ]);
  });

  it('a ping that prints nothing is judged by the silence watch alone (no deadline without a line to time it by)', async () => {
    fakePing('');
    const verdicts = run(0.2, 0.2);
    await until('a verdict', () => verdicts.length >= 1, 3_000);
    expect(verdicts[0]?.r.error).toMatch(/^ping produced no result within \d+ ms \(killed\)$/);
  });
});
