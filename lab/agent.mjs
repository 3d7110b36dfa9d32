// Lab traffic agents, run inside a namespace with `ip netns exec NS node lab/agent.mjs SUB ...`.
//   server HOST:PORT...                  accept connections; first line "peer ADDR PORT local ADDR", then echo
//   connect HOST:PORT COUNT CONCURRENCY  open COUNT new connections; print {"ok","failed","peers":{addr:n},"errors"}
//   hold HOST:PORT INTERVAL_MS            one long-lived connection exchanging numbered lines until SIGTERM;
//                                         prints {"event":"connected",...} then a {"event":"summary",...} line
import net from 'node:net';

const [sub, ...args] = process.argv.slice(2);
const hostPort = (s) => {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
};
const print = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

function firstLine(socket, timeoutMs) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
    socket.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(buf.slice(0, nl));
      }
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

if (sub === 'server') {
  let listening = 0;
  for (const spec of args) {
    const { host, port } = hostPort(spec);
    const server = net.createServer((s) => {
      s.on('error', () => {});
      s.write(`peer ${s.remoteAddress} ${s.remotePort} local ${s.localAddress}\n`);
      s.pipe(s);
    });
    server.listen(port, host, () => {
      if (++listening === args.length) process.stdout.write('ready\n');
    });
  }
  process.on('SIGTERM', () => process.exit(0));
} else if (sub === 'connect') {
  const { host, port } = hostPort(args[0]);
  const count = Number(args[1] ?? 1);
  const concurrency = Number(args[2] ?? 10);
  const result = { ok: 0, failed: 0, peers: {}, errors: [] };
  let next = 0;
  const one = async () => {
    while (next < count) {
      next++;
      const socket = net.connect({ host, port });
      try {
        const line = await firstLine(socket, 3000);
        const peer = line.split(' ')[1];
        result.peers[peer] = (result.peers[peer] ?? 0) + 1;
        result.ok++;
      } catch (e) {
        result.failed++;
        if (result.errors.length < 5) result.errors.push(String(e.message ?? e));
      } finally {
        socket.destroy();
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, one));
  print(result);
} else if (sub === 'hold') {
  const { host, port } = hostPort(args[0]);
  const interval = Number(args[1] ?? 50);
  const socket = net.connect({ host, port });
  let sent = 0;
  let echoed = 0;
  let last = Date.now();
  let maxGapMs = 0;
  let closed = false;
  let error = null;
  let buf = '';
  let greeted = false;
  socket.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!greeted) {
        greeted = true;
        print({ event: 'connected', peer: line.split(' ')[1] });
        continue;
      }
      echoed++;
      const now = Date.now();
      maxGapMs = Math.max(maxGapMs, now - last);
      last = now;
    }
  });
  socket.on('error', (e) => (error = String(e.message)));
  socket.on('close', () => (closed = true));
  const timer = setInterval(() => {
    if (!closed) socket.write(`${++sent}\n`);
  }, interval);
  process.on('SIGTERM', () => {
    clearInterval(timer);
    maxGapMs = Math.max(maxGapMs, Date.now() - last);
    print({ event: 'summary', sent, echoed, maxGapMs, closed, error });
    process.exit(0);
  });
} else {
  process.stderr.write(`unknown agent command ${sub}\n`);
  process.exit(2);
}
