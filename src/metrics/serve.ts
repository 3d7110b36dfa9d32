// Metrics out of the process: an HTTP /metrics endpoint on loopback only, or a file for node_exporter's textfile collector.
import { createServer, type Server } from 'node:http';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { open, rename, unlink } from 'node:fs/promises';
import { MwanError } from '../errors.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** "127.0.0.1:9523" or "[::1]:9523" -> host and port; anything not a loopback address literal is refused. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(listen) ?? /^([^:[\]]+):(\d+)$/.exec(listen);
  const refuse = (why: string): never => {
    throw new MwanError({ code: 'USAGE', summary: `metrics listen address "${listen}": ${why}` });
  };
  if (!m) return refuse('expected host:port, e.g. 127.0.0.1:9523 or [::1]:9523');
  const host = m[1]!;
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port > 65535) return refuse(`port ${m[2]} is not between 0 and 65535`);
  const family = isIPv4(host) ? 'ipv4' : isIPv6(host) ? 'ipv6' : null;
  // Names are refused too: what "localhost" resolves to is up to /etc/hosts, and the metrics must stay on this host.
  if (!family) return refuse(`"${host}" is not an IP address; use 127.0.0.1 or [::1]`);
  if (!LOOPBACK.check(host, family)) {
    return refuse(`"${host}" is not a loopback address; metrics are served on 127.0.0.0/8 or ::1 only`);
  }
  return { host, port };
}

export async function serveMetrics(listen: string, render: () => Promise<string>): Promise<Server> {
  const { host, port } = parseListen(listen);
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const reply = (status: number, body: string, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': status === 200 ? METRICS_CONTENT_TYPE : 'text/plain; charset=utf-8', ...headers });
      res.end(body);
    };
    if (path !== '/metrics') return reply(404, 'not found; metrics are at /metrics\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'method not allowed\n', { allow: 'GET, HEAD' });
    // Through a promise so a render that throws before returning one still answers 500 instead of crashing the daemon.
    Promise.resolve().then(render).then(
      (text) => reply(200, text),
      (e: unknown) => reply(500, `${e instanceof Error ? e.message : String(e)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

let writes = 0;

/** Atomic replace: the collector reads either the old file or the new one, never half of one. */
export async function writeTextfile(path: string, text: string): Promise<void> {
  // Same directory (rename stays on one filesystem); unique per write; ".tmp" is not "*.prom", so the collector skips it.
  const tmp = `${path}.${process.pid}.${++writes}.tmp`;
  const fh = await open(tmp, 'w', 0o644);
  try {
    try {
      await fh.writeFile(text, 'utf8');
      // The umask may have taken bits away at create; node_exporter may run as another user and must read it.
      await fh.chmod(0o644);
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}
