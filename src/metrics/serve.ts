// Metrics out of the process: an HTTP /metrics endpoint on loopback only, or a file for node_exporter's textfile collector.
import { createServer, type Server } from 'node:http';
import { MwanError } from '../model/errors.js';
import { checkListen } from '../model/listen.js';
import { writeFileAtomic } from '../system/atomic-file.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** "127.0.0.1:9523" or "[::1]:9523" -> host and port; anything not a loopback address literal is refused. */
export function parseListen(listen: string): { host: string; port: number } {
  const r = checkListen(listen);
  if ('error' in r) throw new MwanError({ code: 'USAGE', summary: `metrics listen address "${listen}": ${r.error}` });
  return r;
}

export async function serveMetrics(listen: string, render: () => Promise<string>): Promise<Server> {
  const { host, port } = parseListen(listen);
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const reply = (status: number, body: string, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': status === 200 ? METRICS_CONTENT_TYPE : 'text/plain; charset=utf-8', ...headers });
      res.end(body);
    };
    if (path !== '/metrics') {
      reply(404, 'not found; metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      reply(405, 'method not allowed\n', { allow: 'GET, HEAD' });
      return;
    }
    // Through a promise so a render that throws before returning one still answers 500 instead of crashing the daemon.
    Promise.resolve()
      .then(render)
      .then(
        (text) => {
          reply(200, text);
        },
        (e: unknown) => {
          reply(500, `${e instanceof Error ? e.message : String(e)}\n`);
        },
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

/** Atomic replace: the collector reads either the old file or the new one, never half of one. */
export async function writeTextfile(path: string, text: string): Promise<void> {
  // node_exporter may run as another user and must read it, whatever the umask.
  await writeFileAtomic(path, text, 0o644);
}
