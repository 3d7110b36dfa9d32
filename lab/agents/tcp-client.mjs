// TCP client for the lab: opens N separate connections (N flows) and counts which address the server saw for each.
// usage: tcp-client.mjs --target ip:port --count N [--concurrency C] [--timeout-ms T] [--source ip] [--source-port P]
// (--source-port P: flow i binds local port P + i, so a later run can repeat the same connections' ports)
// prints one JSON line: {"ok":n,"failed":m,"peers":{"198.51.100.2":n},"locals":{...},"errors":[...]}
import net from 'node:net';
import { intOption, parseEndpoint, parseOptions, usage } from './args.mjs';

const options = parseOptions(process.argv.slice(2), ['target', 'count', 'concurrency', 'timeout-ms', 'source', 'source-port']);
if (!options.target) usage('--target ip:port is required');
const { host, port } = parseEndpoint(options.target.at(-1));
const count = intOption(options, 'count', 1);
const concurrency = Math.max(1, intOption(options, 'concurrency', 1));
const timeoutMs = intOption(options, 'timeout-ms', 2000);
const localAddress = options.source?.at(-1);
const basePort = options['source-port'] ? intOption(options, 'source-port', 0) : null;
const MAX_ERRORS = 5;

const result = { ok: 0, failed: 0, peers: {}, locals: {}, errors: [] };

/** One flow: connect, read the server's first line, close. */
function once(i) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, ...(localAddress ? { localAddress } : {}), ...(basePort === null ? {} : { localPort: basePort + i }) });
    let buffer = '';
    const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      buffer += chunk;
      const end = buffer.indexOf('\n');
      if (end < 0) return;
      clearTimeout(timer);
      const [word, peer, , , local] = buffer.slice(0, end).split(' ');
      socket.destroy();
      if (word === 'peer') resolve({ peer, local });
      else reject(new Error(`unexpected greeting "${buffer.slice(0, end)}"`));
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      reject(new Error('closed before the greeting'));
    });
  });
}

let started = 0;
async function worker() {
  while (started < count) {
    const i = started;
    started += 1;
    try {
      const { peer, local } = await once(i);
      result.ok += 1;
      result.peers[peer] = (result.peers[peer] ?? 0) + 1;
      result.locals[local] = (result.locals[local] ?? 0) + 1;
    } catch (error) {
      result.failed += 1;
      const message = error.code ? `${error.code}: ${error.message}` : error.message;
      if (result.errors.length < MAX_ERRORS && !result.errors.includes(message)) result.errors.push(message);
    }
  }
}

await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
process.stdout.write(`${JSON.stringify(result)}\n`);
