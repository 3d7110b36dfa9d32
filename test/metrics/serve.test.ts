// serveMetrics answers /metrics on loopback only (404 elsewhere, 500 when rendering fails, any other host refused);
// writeTextfile replaces the file whole, readable by node_exporter, with no temp file left behind.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { METRICS_CONTENT_TYPE, parseListen, serveMetrics, writeTextfile } from '../../src/metrics/serve.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

async function start(render: () => Promise<string>, listen = '127.0.0.1:0'): Promise<string> {
  const server = await serveMetrics(listen, render);
  servers.push(server);
  const { address, port } = server.address() as AddressInfo;
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

function hasIpv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(0, '::1', () => probe.close(() => resolve(true)));
  });
}

const ipv6Loopback = await hasIpv6Loopback();

describe('serveMetrics', () => {
  it('answers GET /metrics with the rendered text and the 0.0.4 content type', async () => {
    const base = await start(async () => 'nft_mwan_up 1\n');
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(METRICS_CONTENT_TYPE).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await res.text()).toBe('nft_mwan_up 1\n');
  });

  it('renders afresh on every scrape', async () => {
    let n = 0;
    const base = await start(async () => `scrape ${++n}\n`);
    expect(await (await fetch(`${base}/metrics`)).text()).toBe('scrape 1\n');
    expect(await (await fetch(`${base}/metrics?x=1`)).text()).toBe('scrape 2\n');
  });

  it.each(['/', '/metric', '/metrics/extra', '/favicon.ico'])('answers 404 on %s', async (path) => {
    let rendered = false;
    const base = await start(async () => {
      rendered = true;
      return 'x\n';
    });
    const res = await fetch(`${base}${path}`);
    expect(res.status).toBe(404);
    await res.text();
    expect(rendered).toBe(false);
  });

  it('answers 405 to a POST', async () => {
    const base = await start(async () => 'x\n');
    const res = await fetch(`${base}/metrics`, { method: 'POST', body: '' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    await res.text();
  });

  it('answers 500 with the message when rendering fails', async () => {
    const base = await start(async () => {
      throw new Error('conntrack: permission denied');
    });
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(500);
    expect(await res.text()).toContain('conntrack: permission denied');
  });

  it('answers 500 when render throws before returning a promise, and keeps serving', async () => {
    let fail = true;
    const base = await start((() => {
      if (fail) throw new Error('sync failure');
      return Promise.resolve('ok\n');
    }) as () => Promise<string>);
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(500);
    expect(await res.text()).toContain('sync failure');
    fail = false;
    expect(await (await fetch(`${base}/metrics`)).text()).toBe('ok\n');
  });

  it('listens on another loopback address of 127.0.0.0/8', async () => {
    const base = await start(async () => 'x\n', '127.0.0.2:0');
    expect(base).toMatch(/^http:\/\/127\.0\.0\.2:\d+$/);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
  });

  // Containers without IPv6 have no ::1; the parse of [::1] is covered below either way.
  it.skipIf(!ipv6Loopback)('listens on [::1]', async () => {
    const base = await start(async () => 'v6\n', '[::1]:0');
    expect(base).toMatch(/^http:\/\/\[::1\]:\d+$/);
    expect(await (await fetch(`${base}/metrics`)).text()).toBe('v6\n');
  });

  it.each(['0.0.0.0:9523', '192.0.2.1:9523', '[::]:9523', '[2001:db8::1]:9523', 'localhost:9523'])('refuses %s', async (listen) => {
    await expect(serveMetrics(listen, async () => 'x\n')).rejects.toThrow(/not a loopback address|not an IP address/);
  });

  it.each(['127.0.0.1', '127.0.0.1:', '127.0.0.1:65536', '::1:9523', '127.0.0.1:95x3', ''])('refuses the malformed %j', (listen) => {
    expect(() => parseListen(listen)).toThrow(/metrics listen address/);
  });

  it.each([
    ['127.0.0.1:9523', '127.0.0.1', 9523],
    ['127.3.2.1:0', '127.3.2.1', 0],
    ['[::1]:9523', '::1', 9523],
    ['[0:0:0:0:0:0:0:1]:9100', '0:0:0:0:0:0:0:1', 9100],
  ])('accepts %s', (listen, host, port) => {
    expect(parseListen(listen)).toEqual({ host, port });
  });

  it('rejects when the port is taken', async () => {
    const base = await start(async () => 'x\n');
    const port = new URL(base).port;
    await expect(serveMetrics(`127.0.0.1:${port}`, async () => 'x\n')).rejects.toThrow(/EADDRINUSE/);
  });
});

describe('writeTextfile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nft-mwan-metrics-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes the text, mode 0644, and leaves no temp file', async () => {
    const path = join(dir, 'nft-mwan.prom');
    await writeTextfile(path, 'nft_mwan_up 1\n');
    expect(readFileSync(path, 'utf8')).toBe('nft_mwan_up 1\n');
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(readdirSync(dir)).toEqual(['nft-mwan.prom']);
  });

  it('replaces an earlier file whole', async () => {
    const path = join(dir, 'nft-mwan.prom');
    await writeTextfile(path, 'a much longer first version of the file\n');
    await Promise.all([writeTextfile(path, 'second\n'), writeTextfile(path, 'second\n')]);
    expect(readFileSync(path, 'utf8')).toBe('second\n');
    expect(readdirSync(dir)).toEqual(['nft-mwan.prom']);
  });

  it('fails, leaving nothing behind, when the directory does not exist', async () => {
    await expect(writeTextfile(join(dir, 'missing', 'nft-mwan.prom'), 'x\n')).rejects.toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
  });
});
