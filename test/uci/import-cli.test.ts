// `nft-mwan import-uci` as a command: the config on stdout, the notes on stderr, even when the result fails the check.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { EXIT, MwanError } from '../../src/model/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-import-cli-'));
const mwan3 = join(dir, 'mwan3');
writeFileSync(mwan3, "config interface 'wan'\n\toption enabled '1'\n\tlist track_ip '2001:db8::1'\n");

/** Runs the command; returns stdout, stderr and the error it threw (if any). */
async function run(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const status = await main(['import-uci', mwan3, ...args], (t) => {
      stdout += t;
      return true;
    });
    return { status, stdout, stderr, error: null };
  } catch (error) {
    return { status: error instanceof MwanError ? error.exitStatus : null, stdout, stderr, error: error as MwanError };
  } finally {
    spy.mockRestore();
  }
}

describe('import-uci command', () => {
  afterEach(() => vi.restoreAllMocks());

  it('prints the config on stdout and every note on stderr', async () => {
    const r = await run('--device', 'wan=eth1');
    expect(r.status).toBe(EXIT.ok);
    expect(JSON.parse(r.stdout).interfaces.wan).toMatchObject({ device: 'eth1' });
    expect(r.stderr).toContain(
      "nft-mwan: note: interface wan.track_ip: 2001:db8::1 dropped: not IPv4, and this section tracks its own family (mwan3track pings with the section's family)\n",
    );
  });

  it('still prints the notes when the imported config fails the schema check, then fails with CONFIG_INVALID', async () => {
    // A device name longer than Linux allows (15): the importer passes it on, the check refuses it.
    const r = await run('--device', 'wan=a-device-name-far-too-long');
    expect(r.error?.code).toBe('CONFIG_INVALID');
    expect(r.status).toBe(EXIT.config);
    expect(r.error?.issues.map((i) => i.path)).toContain('/interfaces/wan/device');
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(
      "nft-mwan: note: interface wan.track_ip: 2001:db8::1 dropped: not IPv4, and this section tracks its own family (mwan3track pings with the section's family)\n",
    );
    expect(r.stderr).toContain('nft-mwan: note: interface wan.track_ip: no IPv4 target left: not tracked, online while its link is up\n');
  });
});
