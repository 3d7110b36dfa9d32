// UDP client for the lab: N flows, flow i from local port --source-port P + i, each one datagram (sent again
// every 200 ms, as a VPN or SIP client retries) until the server answers or --timeout-ms passes; counts the
// address the server saw for each.
// usage: udp-client.mjs --target ip:port --count N --source-port P [--timeout-ms T]
// prints one JSON line: {"ok":n,"failed":m,"peers":{"198.51.100.2":n}}
import dgram from 'node:dgram';
import { intOption, parseEndpoint, parseOptions, usage } from './args.mjs';

const options = parseOptions(process.argv.slice(2), ['target', 'count', 'source-port', 'timeout-ms']);
if (!options.target || !options['source-port']) usage('--target ip:port and --source-port P are required');
const { host, port } = parseEndpoint(options.target.at(-1));
const count = intOption(options, 'count', 1);
const basePort = intOption(options, 'source-port', 0);
const timeoutMs = intOption(options, 'timeout-ms', 2000);
const RETRY_MS = 200;

/** One flow: the server's answer's peer address, or null if none came in time. */
function once(i) {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    let timer;
    let retry;
    const done = (peer) => {
      clearTimeout(timer);
      clearInterval(retry);
      socket.close();
      resolve(peer);
    };
    socket.on('message', (msg) => done(/^peer (\S+)/.exec(msg.toString())?.[1] ?? null));
    socket.on('error', () => done(null));
    socket.bind(basePort + i, () => {
      const send = () => socket.send(`flow ${i}\n`, port, host);
      send();
      retry = setInterval(send, RETRY_MS);
      timer = setTimeout(() => done(null), timeoutMs);
    });
  });
}

const peers = await Promise.all(Array.from({ length: count }, (_, i) => once(i)));
const result = { ok: 0, failed: 0, peers: {} };
for (const peer of peers) {
  if (peer === null) result.failed += 1;
  else {
    result.ok += 1;
    result.peers[peer] = (result.peers[peer] ?? 0) + 1;
  }
}
process.stdout.write(`${JSON.stringify(result)}\n`);
