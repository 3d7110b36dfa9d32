// The daemon under systemd (Type=notify): READY=1 only once its first apply is verified, WATCHDOG=1 from its event
// loop every half WatchdogSec, STOPPING=1 on SIGTERM. systemd-notify is a stand-in first in PATH that records what
// it is asked to send, with the variables systemd would set.
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Lab } from '../../lab/netns.js';
import { buildMultiWan, LAB_NET } from '../../lab/topology.js';
import { describeLab } from '../../lab/vitest.js';
import { startDaemon } from './daemon-helpers.js';

const W1 = LAB_NET.wan[1];
const W2 = LAB_NET.wan[2];

describeLab('nft-mwan daemon under systemd (Type=notify)', () => {
  const lab = new Lab();
  const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-sdnotify-'));
  const record = join(dir, 'sent');

  beforeAll(async () => {
    await buildMultiWan(lab, { wans: 2 });
    // One line per call: the time, and the arguments (the message). Exit 0 as the real one does.
    writeFileSync(join(dir, 'systemd-notify'), `#!/bin/sh\nprintf '%s %s\\n' "$(date +%s%3N)" "$*" >> ${record}\n`);
    chmodSync(join(dir, 'systemd-notify'), 0o755);
  });
  afterAll(async () => {
    await lab.teardown();
  });

  it('READY=1 after the first verified apply, WATCHDOG=1 about every half WatchdogSec, STOPPING=1 on SIGTERM', async () => {
    const config = {
      interfaces: { wan1: { device: 'wan1', gateway: W1.gateway }, wan2: { device: 'wan2', gateway: W2.gateway } },
      policies: { balanced: { members: [{ interface: 'wan1' }, { interface: 'wan2' }] } },
    };
    const daemon = await startDaemon(lab, config, [], {
      path: `${dir}:${process.env.PATH ?? ''}`,
      env: { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '400000' },
    });
    // startDaemon returns once the state file shows the first apply ok; READY follows it.
    await lab.waitFor(() => existsSync(record) && readFileSync(record, 'utf8').includes('READY=1'), { timeoutMs: 5_000, what: 'READY=1' });
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await daemon.stop()).toBe(0);
    const lines = readFileSync(record, 'utf8').trim().split('\n');
    const messages = lines.map((l) => l.slice(l.indexOf(' ') + 1));
    expect(messages[0]).toMatch(/^READY=1 STATUS=2 interfaces/);
    const watchdogs = lines.filter((l) => l.includes('WATCHDOG=1')).map((l) => Number(l.split(' ')[0]));
    // 1.5 s at one every 200 ms: about 7; a loaded machine may lose a few, a missing watchdog loses them all.
    expect(watchdogs.length).toBeGreaterThanOrEqual(4);
    expect(messages.at(-1)).toMatch(/^STOPPING=1/);
    expect(messages.indexOf(messages.find((m) => m.startsWith('WATCHDOG=1')) ?? '')).toBeGreaterThan(0);
  });

  it('without NOTIFY_SOCKET (not under systemd) nothing is sent', async () => {
    writeFileSync(record, '');
    const daemon = await startDaemon(
      lab,
      {
        interfaces: { wan1: { device: 'wan1', gateway: W1.gateway } },
        policies: { p: { members: [{ interface: 'wan1' }] } },
      },
      [],
      { path: `${dir}:${process.env.PATH ?? ''}` },
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(await daemon.stop()).toBe(0);
    expect(readFileSync(record, 'utf8')).toBe('');
  });
});
