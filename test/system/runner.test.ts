// The command runner on node:child_process: output, exit status, input, environment, timeout and a missing command.
import { describe, expect, it } from 'vitest';
import { createRunner, spawnCollect } from '../../src/system/runner.js';
import { MwanError } from '../../src/model/errors.js';

describe('createRunner', () => {
  const run = createRunner();

  it('gives stdout and stderr as they are (final newline kept) and a non-zero exit as a result', async () => {
    const r = await run('sh', ['-c', 'printf "a\\nb\\n"; printf "é oops\\n" >&2; exit 3']);
    expect(r).toEqual({ stdout: 'a\nb\n', stderr: 'é oops\n', exitCode: 3 });
  });

  it('writes the input on stdin and closes it', async () => {
    const input = `${'x'.repeat(200_000)}\nend\n`;
    const r = await run('cat', [], { input });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(input);
    expect((await run('cat', [])).stdout).toBe('');
  });

  it('runs in the environment with LC_ALL=C', async () => {
    process.env.NFT_MWAN_RUNNER_TEST = 'kept';
    try {
      const r = await run('sh', ['-c', 'echo "$LC_ALL $NFT_MWAN_RUNNER_TEST"']);
      expect(r.stdout).toBe('C kept\n');
    } finally {
      delete process.env.NFT_MWAN_RUNNER_TEST;
    }
  });

  it('tells the pid of the spawned process', async () => {
    let pid = 0;
    const r = await run('sh', ['-c', 'echo $$'], { onSpawn: (p) => (pid = p) });
    expect(pid).toBeGreaterThan(0);
    expect(Number(r.stdout)).toBe(pid);
  });

  it('ignores input a command does not read', async () => {
    const r = await run('true', [], { input: 'y\n'.repeat(500_000) });
    expect(r.exitCode).toBe(0);
  });

  it('a command past its timeout is ended: COMMAND_TIMEOUT', async () => {
    const t0 = Date.now();
    const e = await run('sleep', ['5'], { timeoutMs: 100 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MwanError);
    expect((e as MwanError).code).toBe('COMMAND_TIMEOUT');
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it('a command that does not exist: COMMAND_MISSING', async () => {
    const e = await run('nft-mwan-no-such-command', []).catch((x: unknown) => x);
    expect((e as MwanError).code).toBe('COMMAND_MISSING');
  });

  it('a command ended by a signal: COMMAND_FAILED', async () => {
    const e = await run('sh', ['-c', 'kill -KILL $$']).catch((x: unknown) => x);
    expect((e as MwanError).code).toBe('COMMAND_FAILED');
  });

  it('runs every command under its prefix', async () => {
    const r = await createRunner({ prefix: ['env', 'PREFIXED=1'] })('sh', ['-c', 'echo $PREFIXED']);
    expect(r.stdout).toBe('1\n');
  });
});

describe('spawnCollect', () => {
  it('a timed-out command has no exit status', async () => {
    const r = await spawnCollect('sleep', ['5'], '', 50);
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBeUndefined();
  });
});
