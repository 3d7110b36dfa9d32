// `nft -j list set` through the adapter: the set object with its elements, or the command's failure with nft's words.
import { describe, expect, it } from 'vitest';
import { listSet } from '../../src/system/nft.js';
import type { RunResult, Runner } from '../../src/system/runner.js';

function runner(result: RunResult): { run: Runner; calls: [string, readonly string[]][] } {
  const calls: [string, readonly string[]][] = [];
  return { calls, run: async (file, args) => (calls.push([file, args]), result) };
}

describe('listSet', () => {
  it('asks nft for the one set, as JSON, and gives its object', async () => {
    const set = { family: 'inet', table: 'nft_mwan', name: 'vpn', type: 'ipv4_addr', elem: ['192.0.2.1'] };
    const { run, calls } = runner({ exitCode: 0, stderr: '', stdout: JSON.stringify({ nftables: [{ metainfo: { version: '1.0.6' } }, { set }] }) });
    expect(await listSet(run, 'inet', 'nft_mwan', 'vpn')).toEqual(set);
    expect(calls).toEqual([['nft', ['-j', 'list', 'set', 'inet', 'nft_mwan', 'vpn']]]);
  });

  it('gives null when nft answers without a set', async () => {
    const { run } = runner({ exitCode: 0, stderr: '', stdout: JSON.stringify({ nftables: [{ metainfo: { version: '1.0.6' } }] }) });
    expect(await listSet(run, 'inet', 'nft_mwan', 'vpn')).toBeNull();
  });

  it("fails as COMMAND_FAILED with nft's stderr when nft fails (no table, no set)", async () => {
    const { run } = runner({ exitCode: 1, stdout: '', stderr: 'Error: No such file or directory' });
    await expect(listSet(run, 'inet', 'nft_mwan', 'vpn')).rejects.toMatchObject({
      code: 'COMMAND_FAILED',
      stderr: 'Error: No such file or directory',
      message: expect.stringContaining('cannot list set vpn (is the config applied?)'),
    });
  });
});
