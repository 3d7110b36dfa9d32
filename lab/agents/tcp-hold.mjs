// Long-lived TCP flow for the lab: sends a numbered line every interval and checks the echo, to see a flow survive (or not) a change.
// usage: tcp-hold.mjs --target ip:port [--interval-ms 50] [--duration-ms D] [--connect-timeout-ms 3000] [--source ip]
// prints {"event":"connected",...} once connected, then {"event":"summary",...} on SIGTERM, after D ms, or when the connection ends.
import net from 'node:net';
import { intOption, parseEndpoint, parseOptions, usage } from './args.mjs';

const options = parseOptions(process.argv.slice(2), ['target', 'interval-ms', 'duration-ms', 'connect-timeout-ms', 'source']);
if (!options.target) usage('--target ip:port is required');
const { host, port } = parseEndpoint(options.target.at(-1));
const intervalMs = Math.max(1, intOption(options, 'interval-ms', 50));
const durationMs = intOption(options, 'duration-ms', 0);
const connectTimeoutMs = intOption(options, 'connect-timeout-ms', 3000);
const localAddress = options.source?.at(-1);

const stats = { sent: 0, echoed: 0, mismatched: 0, maxGapMs: 0, closed: false, error: null };
let connected = false;
let lastEchoAt = 0;
let buffer = '';
let ticker;
let finished = false;

const print = (object) => process.stdout.write(`${JSON.stringify(object)}\n`);

/** The gap that counts is the longest stretch without an echo while lines were outstanding. */
function noteGap(now) {
  if (connected) stats.maxGapMs = Math.max(stats.maxGapMs, now - lastEchoAt);
}

function finish(code = 0) {
  if (finished) return;
  finished = true;
  clearInterval(ticker);
  if (stats.sent > stats.echoed) noteGap(Date.now());
  socket.destroy();
  process.stdout.write(`${JSON.stringify({ event: 'summary', ...stats })}\n`, () => process.exit(code));
}

const socket = net.connect({ host, port, ...(localAddress ? { localAddress } : {}) });
socket.setNoDelay(true);
socket.setEncoding('utf8');
const connectTimer = setTimeout(() => {
  stats.error = `not connected within ${connectTimeoutMs} ms`;
  finish(1);
}, connectTimeoutMs);

socket.on('data', (chunk) => {
  buffer += chunk;
  for (let end = buffer.indexOf('\n'); end >= 0; end = buffer.indexOf('\n')) {
    const line = buffer.slice(0, end);
    buffer = buffer.slice(end + 1);
    if (!connected) {
      const [, peer, peerPort, , local] = line.split(' ');
      connected = true;
      clearTimeout(connectTimer);
      lastEchoAt = Date.now();
      print({ event: 'connected', peer, peerPort: Number(peerPort), local });
      ticker = setInterval(() => {
        stats.sent += 1;
        socket.write(`${stats.sent}\n`);
      }, intervalMs);
      if (durationMs > 0) setTimeout(finish, durationMs);
      continue;
    }
    if (Number(line) === stats.echoed + 1) {
      const now = Date.now();
      noteGap(now);
      lastEchoAt = now;
      stats.echoed += 1;
    } else {
      stats.mismatched += 1;
    }
  }
});
socket.on('error', (error) => {
  stats.error = error.code ? `${error.code}: ${error.message}` : error.message;
});
socket.on('close', () => {
  stats.closed = true;
  clearTimeout(connectTimer);
  finish(connected ? 0 : 1);
});
process.on('SIGTERM', () => finish(0));
process.on('SIGINT', () => finish(0));
