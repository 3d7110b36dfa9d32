// Unit tests run the real engine with stand-in runners: its lock, journal and records go to a temp directory of
// the test file's own, not to the host's /run/nft-mwan (a test that means the default sets or deletes the variable).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

if (process.env.NFT_MWAN_STATE_DIR === undefined) {
  const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-unit-state-'));
  process.env.NFT_MWAN_STATE_DIR = dir;
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    delete process.env.NFT_MWAN_STATE_DIR;
  });
}
