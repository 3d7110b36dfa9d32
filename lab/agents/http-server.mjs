// HTTP server for the lab: answers every request with one status and a line saying how the client was seen, for health checks and HTTP probes.
// usage: http-server.mjs --listen 192.0.2.10:80 [--listen ...] [--status N]; a request for /status/NNN (200-599) gets NNN instead.
// prints "ready" once every listener listens, nothing per request.
import http from 'node:http';
import { intOption, parseEndpoint, parseOptions, usage } from './args.mjs';

const options = parseOptions(process.argv.slice(2), ['listen', 'status']);
const endpoints = (options.listen ?? []).map(parseEndpoint);
if (endpoints.length === 0) usage('at least one --listen ip:port is required');
/** 1xx are not final answers, and Node's writeHead treats some of them specially. */
const isFinal = (n) => n >= 200 && n <= 599;
const status = intOption(options, 'status', 200);
if (!isFinal(status)) usage(`--status must be from 200 to 599, got ${status}`);

function handle(request, response) {
  const asked = /^\/status\/(\d{3})$/.exec(request.url ?? '');
  const code = asked && isFinal(Number(asked[1])) ? Number(asked[1]) : status;
  const { remoteAddress, localAddress } = request.socket;
  response.writeHead(code, { 'content-type': 'text/plain' });
  response.end(`${code} peer ${remoteAddress} local ${localAddress}\n`);
}

const servers = endpoints.map(({ host, port }) => {
  const server = http.createServer(handle);
  // A client that resets mid-way is normal in failover tests, not a reason to die.
  server.on('clientError', (_error, socket) => socket.destroy());
  server.on('error', (error) => {
    process.stderr.write(`listen ${host}:${port}: ${error.message}\n`);
    process.exit(1);
  });
  return new Promise((resolve) => server.listen({ host, port, backlog: 1024 }, () => resolve(server)));
});

await Promise.all(servers);
process.stdout.write('ready\n');
process.on('SIGTERM', () => process.exit(0));
