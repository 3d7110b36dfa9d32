// UDP server for the lab: answers each datagram with how its sender was seen ("peer ADDR PORT").
// usage: udp-server.mjs --listen 192.0.2.10:5002 [--listen ...]; prints "ready" once every socket is bound.
import dgram from 'node:dgram';
import { parseEndpoint, parseOptions, usage } from './args.mjs';

const options = parseOptions(process.argv.slice(2), ['listen']);
const endpoints = (options.listen ?? []).map(parseEndpoint);
if (endpoints.length === 0) usage('at least one --listen ip:port is required');

const sockets = endpoints.map(({ host, port }) => {
  const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  socket.on('message', (_msg, rinfo) => socket.send(`peer ${rinfo.address} ${rinfo.port}\n`, rinfo.port, rinfo.address));
  socket.on('error', (error) => {
    process.stderr.write(`bind ${host}:${port}: ${error.message}\n`);
    process.exit(1);
  });
  return new Promise((resolve) => socket.bind(port, host, () => resolve(socket)));
});

await Promise.all(sockets);
process.stdout.write('ready\n');
process.on('SIGTERM', () => process.exit(0));
