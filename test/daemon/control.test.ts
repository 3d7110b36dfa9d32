// The control socket: one JSON request, one JSON reply; owner-only permissions; a clear NOT_RUNNING error when no
// daemon listens; handler failures, bad requests and silence become answers or errors, never hangs.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendControl, serveControl, type ControlRequest } from '../../src/daemon/control.js';
import { MwanError } from '../../src/model/errors.js';

let dir: string;
let sock: string;
let server: Server | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nft-mwan-ctl-'));
  sock = join(dir, 'control.sock');
});
afterEach(async () => {
  if (server) await new Promise<void>((r) => server?.close(() => r()));
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** Sends raw bytes and collects the whole answer. */
function raw(path: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = createConnection(path);
    let buf = '';
    c.setEncoding('utf8');
    c.on('connect', () => c.write(text));
    c.on('data', (d: string) => (buf += d));
    c.on('end', () => resolve(buf));
    c.on('error', reject);
  });
}

describe('control socket', () => {
  it('round-trips a request and its reply', async () => {
    const seen: ControlRequest[] = [];
    server = await serveControl(sock, async (req) => {
      seen.push(req);
      return { ok: true, message: req.command === 'reload' ? 'reloaded' : `${req.interface} ${req.command}` };
    });
    expect(await sendControl(sock, { command: 'ifdown', interface: 'wan1' })).toEqual({ ok: true, message: 'wan1 ifdown' });
    expect(await sendControl(sock, { command: 'reload' })).toEqual({ ok: true, message: 'reloaded' });
    expect(seen).toEqual([{ command: 'ifdown', interface: 'wan1' }, { command: 'reload' }]);
  });

  it('passes a refusal through as it is', async () => {
    server = await serveControl(sock, async () => ({ ok: false, message: 'unknown interface "wan9"' }));
    expect(await sendControl(sock, { command: 'ifup', interface: 'wan9' })).toEqual({ ok: false, message: 'unknown interface "wan9"' });
  });

  it('the socket is readable and writable by its owner only', async () => {
    server = await serveControl(sock, async () => ({ ok: true, message: '' }));
    const st = statSync(sock);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  });

  it('replaces a stale file left at the socket path', async () => {
    writeFileSync(sock, 'left over');
    server = await serveControl(sock, async () => ({ ok: true, message: 'fresh' }));
    expect(await sendControl(sock, { command: 'reload' })).toEqual({ ok: true, message: 'fresh' });
  });

  it('a handler that throws gives {ok: false, message}', async () => {
    server = await serveControl(sock, async () => {
      throw new Error('apply failed: nft exited 1');
    });
    expect(await sendControl(sock, { command: 'reload' })).toEqual({ ok: false, message: 'apply failed: nft exited 1' });
  });

  it('answers a request that is not JSON', async () => {
    server = await serveControl(sock, async () => ({ ok: true, message: 'should not be called' }));
    expect(JSON.parse(await raw(sock, 'ifdown wan1\n'))).toEqual({ ok: false, message: 'not JSON' });
  });

  it('answers a request line that is too long', async () => {
    server = await serveControl(sock, async () => ({ ok: true, message: 'should not be called' }));
    expect(JSON.parse(await raw(sock, 'x'.repeat(5000)))).toEqual({ ok: false, message: 'request too long' });
  });

  it.each([
    ['no file at the path', (p: string) => p],
    ['a file nothing listens on', (p: string) => (writeFileSync(p, ''), p)],
  ])('with %s, sendControl rejects with NOT_RUNNING and says how to start the daemon', async (_what, prepare) => {
    const err = await sendControl(prepare(sock), { command: 'ifup', interface: 'wan1' }, 2_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MwanError);
    expect((err as MwanError).code).toBe('NOT_RUNNING');
    expect((err as MwanError).message).toContain(sock);
    expect((err as MwanError).message).toContain('`nft-mwan daemon`');
  });

  it('a daemon that does not answer in time is a COMMAND_TIMEOUT', async () => {
    server = await serveControl(sock, () => new Promise(() => undefined));
    const started = Date.now();
    const err = await sendControl(sock, { command: 'reload' }, 300).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(err).toBeInstanceOf(MwanError);
    expect((err as MwanError).code).toBe('COMMAND_TIMEOUT');
  });
});
