// TCP server for the lab: tells each client how it was seen (peer address, local address), then echoes.
// usage: tcp-server.mjs --listen 192.0.2.10:5001 [--listen ...]; prints "ready" once every listener listens.
import net from 'node:net';
import { parseEndpoint, parseOptions, usage } from './args.mjs';

const options = parseOptions(process.argv.slice(2), ['listen']);
const endpoints = (options.listen ?? []).map(parseEndpoint);
if (endpoints.length === 0) usage('at least one --listen ip:port is required');

const servers = endpoints.map(({ host, port }) => {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    // A client that resets mid-way is normal in failover tests, not a reason to die.
    socket.on('error', () => socket.destroy());
    socket.write(`peer ${socket.remoteAddress} ${socket.remotePort} local ${socket.localAddress}\n`);
    socket.pipe(socket);
  });
  server.on('error', (error) => {
    process.stderr.write(`listen ${host}:${port}: ${error.message}\n`);
    process.exit(1);
  });
  return new Promise((resolve) => server.listen({ host, port, backlog: 1024 }, () => resolve(server)));
});

await Promise.all(servers);
process.stdout.write('ready\n');
process.on('SIGTERM', () => process.exit(0));
