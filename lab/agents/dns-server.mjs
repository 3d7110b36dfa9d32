// Minimal DNS responder for the lab (UDP): every A query gets 192.0.2.99, any other type an empty NOERROR, for DNS health probes.
// usage: dns-server.mjs --listen 192.0.2.10:53 [--listen ...]; prints "ready" once every socket is bound.
import dgram from 'node:dgram';
import { parseEndpoint, parseOptions, usage } from './args.mjs';

const options = parseOptions(process.argv.slice(2), ['listen']);
const endpoints = (options.listen ?? []).map(parseEndpoint);
if (endpoints.length === 0) usage('at least one --listen ip:port is required');

const HEADER = 12;
const TYPE_A = 1;
const CLASS_IN = 1;
/** lab/agents.ts exports it as DNS_ANSWER_A. */
const ANSWER_A = [192, 0, 2, 99];
const TTL = 60;
const QR = 0x8000;
const RD = 0x0100;
const RA = 0x0080;

/** The end offset of the first question (name, type, class), or undefined if the packet is not a query with one. */
function questionEnd(query) {
  if (query.length < HEADER || query.readUInt16BE(2) & QR || query.readUInt16BE(4) === 0) return undefined;
  let at = HEADER;
  for (;;) {
    const len = query[at];
    // Labels only: a compression pointer (top bits set) has nothing to point back to in a first question.
    if (len === undefined || len > 63) return undefined;
    at += 1 + len;
    if (len === 0) break;
  }
  return at + 4 <= query.length ? at + 4 : undefined;
}

function answer(query) {
  const end = questionEnd(query);
  if (end === undefined) return undefined;
  const isA = query.readUInt16BE(end - 4) === TYPE_A;
  const header = Buffer.alloc(HEADER);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  header.writeUInt16BE(QR | (query.readUInt16BE(2) & RD) | RA, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(isA ? 1 : 0, 6);
  const parts = [header, query.subarray(HEADER, end)];
  if (isA) {
    const record = Buffer.alloc(16);
    record.writeUInt16BE(0xc000 | HEADER, 0); // the name: a pointer to the question's
    record.writeUInt16BE(TYPE_A, 2);
    record.writeUInt16BE(CLASS_IN, 4);
    record.writeUInt32BE(TTL, 6);
    record.writeUInt16BE(ANSWER_A.length, 10);
    Buffer.from(ANSWER_A).copy(record, 12);
    parts.push(record);
  }
  return Buffer.concat(parts);
}

const sockets = endpoints.map(({ host, port }) => {
  const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  socket.on('message', (query, peer) => {
    const reply = answer(query);
    // With a callback a failed send (no route back, e.g. a cut ISP) is only lost, as on a real network.
    if (reply) socket.send(reply, peer.port, peer.address, () => {});
  });
  socket.on('error', (error) => {
    process.stderr.write(`listen ${host}:${port}: ${error.message}\n`);
    process.exit(1);
  });
  return new Promise((resolve) => socket.bind({ address: host, port }, () => resolve(socket)));
});

await Promise.all(sockets);
process.stdout.write('ready\n');
process.on('SIGTERM', () => process.exit(0));
