// The probe-pair adapter: one `nft -f -` transaction that adds, deletes and re-adds each pair with a fresh timeout.
import { describe, expect, it } from 'vitest';
import { allowProbePairs } from '../../src/system/probe-pairs.js';
import type { Runner, RunOptions } from '../../src/system/runner.js';

const recording = (exitCode = 0) => {
  const calls: { file: string; args: readonly string[]; opts: RunOptions | undefined }[] = [];
  const run: Runner = (file, args, opts) => {
    calls.push({ file, args, opts });
    return Promise.resolve({ stdout: '', stderr: exitCode === 0 ? '' : 'Error: No such file or directory', exitCode });
  };
  return { calls, run };
};

describe('allowProbePairs', () => {
  it('refreshes each pair (once, however many names share an address) in one transaction', async () => {
    const r = recording();
    await allowProbePairs(
      r.run,
      'nft_mwan',
      [
        ['192.0.2.10', '203.0.113.5'],
        ['192.0.2.10', '203.0.113.5'],
        ['192.0.2.10', '203.0.113.6'],
      ],
      7,
    );
    expect(r.calls.map((c) => [c.file, c.args])).toEqual([['nft', ['-f', '-']]]);
    expect(r.calls[0]?.opts?.input?.split('\n')).toEqual([
      'add element inet nft_mwan probe_pairs { 192.0.2.10 . 203.0.113.5, 192.0.2.10 . 203.0.113.6 }',
      'delete element inet nft_mwan probe_pairs { 192.0.2.10 . 203.0.113.5, 192.0.2.10 . 203.0.113.6 }',
      'add element inet nft_mwan probe_pairs { 192.0.2.10 . 203.0.113.5 timeout 7s, 192.0.2.10 . 203.0.113.6 timeout 7s }',
      '',
    ]);
  });

  it('runs nothing without pairs, and rejects with nft error when the set is missing', async () => {
    const none = recording();
    await allowProbePairs(none.run, 'nft_mwan', [], 7);
    expect(none.calls).toEqual([]);
    await expect(allowProbePairs(recording(1).run, 'nft_mwan', [['192.0.2.10', '203.0.113.5']], 7)).rejects.toThrow(/No such file or directory/);
  });
});
