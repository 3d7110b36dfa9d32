// The daemon's control socket: one JSON request line in, one JSON reply line out (ifup, ifdown, reload).
import { createConnection, createServer, type Server } from 'node:net';
import { chmod, unlink } from 'node:fs/promises';
import { MwanError } from '../model/errors.js';

export type ControlRequest = { command: 'ifup' | 'ifdown'; interface: string } | { command: 'reload' };
export interface ControlReply {
  ok: boolean;
  message: string;
}

const MAX_REQUEST = 4096;

export async function serveControl(path: string, handle: (req: ControlRequest) => Promise<ControlReply>): Promise<Server> {
  // A socket left by a daemon that died would make listen fail; only a live daemon answers on it.
  await unlink(path).catch(() => undefined);
  const server = createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', () => undefined);
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_REQUEST) return sock.end(`${JSON.stringify({ ok: false, message: 'request too long' })}\n`);
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      let req: ControlRequest;
      try {
        req = JSON.parse(buf.slice(0, nl)) as ControlRequest;
      } catch {
        return sock.end(`${JSON.stringify({ ok: false, message: 'not JSON' })}\n`);
      }
      handle(req).then(
        (reply) => sock.end(`${JSON.stringify(reply)}\n`),
        (e: unknown) => sock.end(`${JSON.stringify({ ok: false, message: (e as Error).message })}\n`),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      resolve();
    });
  });
  await chmod(path, 0o600);
  return server;
}

export function sendControl(path: string, req: ControlRequest, timeoutMs = 30_000): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new MwanError({ code: 'COMMAND_TIMEOUT', summary: `the daemon did not answer within ${timeoutMs} ms on ${path}` }));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${JSON.stringify(req)}\n`));
    sock.on('data', (c: string) => (buf += c));
    sock.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf) as ControlReply);
      } catch {
        reject(new MwanError({ code: 'DAEMON', summary: `the daemon's answer on ${path} was not understood: ${buf.slice(0, 200)}` }));
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const missing = e.code === 'ENOENT' || e.code === 'ECONNREFUSED';
      reject(
        new MwanError({
          code: missing ? 'NOT_RUNNING' : 'DAEMON',
          summary: missing
            ? `no nft-mwan daemon is running (nothing answers on ${path}); start it with \`nft-mwan daemon\` or \`systemctl start nft-mwan\``
            : `cannot talk to the daemon on ${path}: ${e.message}`,
        }),
      );
    });
  });
}
