// Probes that leave through one WAN: ping with the WAN's firewall mark and device, or sockets bound to its address.
import { createSocket } from 'node:dgram';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { randomInt } from 'node:crypto';
import { execFile } from 'node:child_process';
import type { ProbeResult } from '../model/tracking.js';
import type { TrackSettings } from '../config/resolved.js';
import { parseTarget, type Target } from '../model/targets.js';
import { resolveHost, type Lookup } from './resolve.js';

/** How a probe leaves through its WAN. */
export interface Egress {
  device: string;
  /** The WAN's firewall mark (its ip rules send marked packets to its table). */
  mark: number;
  /** The device's IPv4 address: sockets bound to it are routed by the `from` rule into the WAN's table. */
  address: string | null;
  /** Its IPv6 address (global), the same for IPv6 targets; absent or null when it has none. */
  address6?: string | null;
}

/** Runs one round: every target probed `count` times, targets in parallel; never throws. */
export type Prober = (settings: TrackSettings, egress: Egress, signal: AbortSignal) => Promise<ProbeResult[]>;

/** What a round needs for host-name targets: a resolver, and the daemon's way to keep their probes on their WAN. */
export interface RoundDeps {
  lookup: Lookup;
  /**
   * Lets [WAN address, target address] pairs leave through the WAN for `seconds` (the table's probe-pair set):
   * a tcp/http/dns probe to a name's address, unknown when the ruleset was compiled. Absent: not needed.
   */
  allowPairs?: ((pairs: readonly (readonly [string, string])[], seconds: number, family: 'ipv4' | 'ipv6') => Promise<void>) | undefined;
}

/** A round with these resolver and pair hooks. */
export function roundWith(deps: RoundDeps): Prober {
  return async (s, egress, signal) => {
    const targets = await resolveTargets(s, egress, deps, signal);
    const perTarget = await Promise.all(
      targets.map(async (t) => {
        if ('error' in t) return Array.from({ length: t.probes }, () => fail(t.text, t.error));
        const { target, timeoutMs } = t;
        try {
          if (target.method === 'ping') return await ping(target, s, egress, signal, timeoutMs);
          const out: ProbeResult[] = [];
          // Only the first probe pays for the name's resolution.
          for (let i = 0; i < s.count && !signal.aborted; i++) out.push(await socketProbe(target, s, egress, signal, i === 0 ? timeoutMs : s.timeout * 1000));
          return out;
        } catch (e) {
          // A probe program that crashes or cannot start is a failed probe, not a dead daemon.
          return [fail(target.text, `probe error: ${(e as Error).message}`)];
        }
      }),
    );
    return perTarget.flat();
  };
}

/** A target ready to probe (a name replaced by its address, the first probe's time shortened by the lookup), or why not. */
type Ready = { target: Target; timeoutMs: number } | { text: string; error: string; probes: number };

/**
 * Names resolved for this round (in the family these settings track), all at once; a name that does not resolve
 * in the round's timeout is `count` missed probes of that target, like a target that does not answer.
 */
async function resolveTargets(s: TrackSettings, egress: Egress, deps: RoundDeps, signal: AbortSignal): Promise<Ready[]> {
  const family = s.family === 'ipv6' ? 6 : 4;
  const budgetMs = s.timeout * 1000;
  const ready = await Promise.all(
    s.targets.map(async (text): Promise<Ready> => {
      const target = parseTarget(s.method, text);
      if ('error' in target) return { text, error: target.error, probes: 1 };
      if (!target.name) return { target, timeoutMs: budgetMs };
      const r = await resolveHost(target.host, family, deps.lookup, budgetMs, signal);
      if ('error' in r) return { text, error: r.error, probes: s.count };
      return { target: { ...target, host: r.address, family: s.family }, timeoutMs: Math.max(1, budgetMs - r.ms) };
    }),
  );
  // Ping carries the WAN's mark itself; the others leave from the WAN's address, kept on it by the pair set.
  const named = ready.filter((r): r is Extract<Ready, { target: Target }> => 'target' in r && r.target.name && r.target.method !== 'ping');
  const local = s.family === 'ipv6' ? (egress.address6 ?? null) : egress.address;
  if (named.length === 0 || local === null || deps.allowPairs === undefined) return ready;
  try {
    // The pair outlives the round's probes (count of them, one after another), with a margin.
    await deps.allowPairs(
      named.map((r) => [local, r.target.host] as const),
      Math.ceil(s.count * s.timeout) + PAIR_MARGIN_S,
      s.family,
    );
    return ready;
  } catch (e) {
    // Unmarked, the probe could leave through another WAN and answer for this one: not sent at all.
    const why = `cannot keep the probe on ${egress.device}: ${(e as Error).message}`;
    return ready.map((r) => ('target' in r && named.includes(r) ? { text: r.target.text, error: why, probes: s.count } : r));
  }
}

/** Seconds a probe pair stays in the set after the round's probes should have finished. */
const PAIR_MARGIN_S = 5;

function fail(target: string, error: string): ProbeResult {
  return { target, ok: false, rttMs: null, error };
}

/** Spacing between echoes of one target within a round (ping -i; below 0.2 s needs root, which the daemon is). */
const PING_SPACING_S = 0.1;

async function ping(target: Target, s: TrackSettings, egress: Egress, signal: AbortSignal, timeoutMs: number): Promise<ProbeResult[]> {
  // -I binds to the device, -m marks the echoes so the WAN's ip rules route them, whatever the main table says.
  // -W: what the name's lookup (if any) left of the timeout.
  const args = [...pingFamily(target.host), '-n', '-c', String(s.count), '-W', String(timeoutMs / 1000), '-I', egress.device, '-m', String(egress.mark)];
  if (s.count > 1) args.push('-i', String(PING_SPACING_S));
  // A hard stop: the last echo's timeout after the last echo is sent.
  const deadlineMs = Math.ceil(timeoutMs + (s.count - 1) * PING_SPACING_S * 1000) + 500;
  // node's execFile, not execa: a probe runs every round on every WAN, and the lighter spawn is what keeps
  // the daemon's idle CPU low.
  const r = await new Promise<{ stdout: string; stderr: string; code: number | null; signal: string | null; timedOut: boolean; error: string | null }>(
    (resolve) => {
      const started = performance.now();
      execFile(
        'ping',
        [...args, target.host],
        { timeout: deadlineMs, killSignal: 'SIGKILL', signal, env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' } },
        (error, stdout, stderr) => {
          const e = error as (NodeJS.ErrnoException & { code?: number | string; signal?: string; killed?: boolean }) | null;
          resolve({
            stdout,
            stderr,
            code: e === null ? 0 : typeof e.code === 'number' ? e.code : null,
            signal: e?.signal ?? null,
            timedOut: e?.killed === true && performance.now() - started >= deadlineMs - 50,
            error: e !== null && typeof e.code === 'string' ? `${e.code}: ${e.message}` : null,
          });
        },
      );
    },
  );
  const parsed = parsePing(r.stdout, s.count);
  if (parsed.some((p) => p.ok)) return parsed.map((p) => ({ target: target.text, ...p }));
  // No answer at all: say why when ping itself failed, so `status` and the log tell a dead probe from a dead WAN.
  let why: string | null = null;
  if (r.timedOut) why = `ping did not finish within ${deadlineMs} ms (killed)`;
  else if (signal.aborted) why = 'cancelled';
  else if (r.error !== null) why = `ping could not run: ${r.error}`;
  else if (r.signal) why = `ping died (${r.signal})`;
  else if (r.code === null || r.code > 1) why = r.stderr.trim().split('\n')[0] || `ping exited ${r.code ?? 'null'}`;
  if (why === null) return parsed.map((p) => ({ target: target.text, ...p }));
  return Array.from({ length: s.count }, () => fail(target.text, why));
}

/** `-6` for an IPv6 target: ping would otherwise guess the family from the address (iputils before 20190709 cannot). */
export function pingFamily(host: string): string[] {
  return host.includes(':') ? ['-6'] : [];
}

/**
 * Reads `ping -n` output: one result per echo sent. A reply line is a success with its RTT; an ICMP error
 * ("From X icmp_seq=N Destination Host Unreachable", "Time to live exceeded") is a failure, never a success.
 */
export function parsePing(stdout: string, count: number): Omit<ProbeResult, 'target'>[] {
  const bySeq = new Map<number, Omit<ProbeResult, 'target'>>();
  for (const line of stdout.split('\n')) {
    const reply = /^\d+ bytes from .*icmp_seq=(\d+).* time=([\d.]+) ms/.exec(line);
    if (reply) {
      const seq = Number(reply[1]);
      // A duplicate or a reply after an error for the same echo does not undo the error.
      if (!bySeq.has(seq)) bySeq.set(seq, { ok: true, rttMs: Number(reply[2]), error: null });
      continue;
    }
    const error = /^From (\S+?):? .*icmp_seq=(\d+) (.+)$/.exec(line);
    // A redirect only tells of a better next hop: the echo was forwarded, its reply may well come.
    if (error && !(error[3] as string).startsWith('Redirect')) {
      bySeq.set(Number(error[2]), { ok: false, rttMs: null, error: `${error[3] as string} (from ${error[1] as string})` });
    }
  }
  return Array.from({ length: count }, (_, i) => bySeq.get(i + 1) ?? { ok: false, rttMs: null, error: 'no reply' });
}

function socketProbe(target: Target, s: TrackSettings, egress: Egress, signal: AbortSignal, timeoutMs: number): Promise<ProbeResult> {
  // A name's family is its address's, resolved in the family its tracking probes.
  const v6 = (target.family ?? s.family) === 'ipv6';
  const local = v6 ? (egress.address6 ?? null) : egress.address;
  if (local === null) {
    return Promise.resolve(fail(target.text, `device ${egress.device} has no ${v6 ? 'IPv6' : 'IPv4'} address to probe from`));
  }
  const started = performance.now();
  const ms = () => Math.round((performance.now() - started) * 1000) / 1000;
  return new Promise<ProbeResult>((resolve) => {
    let done = false;
    const cleanups: (() => void)[] = [];
    const finish = (ok: boolean, error: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      for (const c of cleanups) c();
      resolve({ target: target.text, ok, rttMs: ok ? ms() : null, error });
    };
    const timer = setTimeout(() => {
      finish(false, `no answer within ${s.timeout} s`);
    }, timeoutMs);
    const onAbort = () => {
      finish(false, 'cancelled');
    };
    signal.addEventListener('abort', onAbort);

    if (target.method === 'tcp') {
      const sock = connect({ host: target.host, port: target.port, localAddress: local });
      cleanups.push(() => sock.destroy());
      sock.once('connect', () => {
        finish(true, null);
      });
      sock.once('error', (e: NodeJS.ErrnoException) => {
        finish(false, e.code ?? e.message);
      });
    } else if (target.method === 'http') {
      const url = target.url;
      const https = url.protocol === 'https:';
      const options = { method: 'GET', localAddress: local, agent: false as const };
      // A name: connect to this round's address, while the Host header and TLS's server name stay the name.
      const req = target.name
        ? (https ? httpsRequest : httpRequest)({
            ...options,
            protocol: url.protocol,
            host: target.host,
            port: target.port,
            path: `${url.pathname}${url.search}`,
            headers: { host: url.host },
            ...(https ? { servername: url.hostname } : {}),
          })
        : (https ? httpsRequest : httpRequest)(url, options);
      cleanups.push(() => req.destroy());
      req.once('response', (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        const good = s.expectStatus ? s.expectStatus.includes(status) : status >= 200 && status <= 399;
        finish(good, good ? null : `HTTP ${status}`);
      });
      req.once('error', (e: NodeJS.ErrnoException) => {
        finish(false, e.code ?? e.message);
      });
      req.end();
    } else {
      const sock = createSocket(v6 ? 'udp6' : 'udp4');
      cleanups.push(() => sock.close());
      const id = randomInt(0, 0x10000);
      sock.on('error', (e: NodeJS.ErrnoException) => {
        finish(false, e.code ?? e.message);
      });
      sock.on('message', (msg) => {
        // Any answer to our id (even NXDOMAIN) proves the path; ICMP errors surface as socket errors.
        if (msg.length >= 12 && msg.readUInt16BE(0) === id && (msg[2] as number) & 0x80) finish(true, null);
      });
      sock.bind(0, local, () => {
        sock.send(dnsQuery(id, s.dnsName ?? '.'), target.port, target.host);
      });
    }
  });
}

/** A DNS query for `name`, type NS (the root's NS when name is "."), recursion desired. */
export function dnsQuery(id: number, name: string): Buffer {
  const labels = name.split('.').filter((l) => l.length > 0);
  const qname = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')])), Buffer.from([0])]);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // RD
  header.writeUInt16BE(1, 4); // QDCOUNT
  const question = Buffer.alloc(4);
  question.writeUInt16BE(2, 0); // NS
  question.writeUInt16BE(1, 2); // IN
  return Buffer.concat([header, qname, question]);
}
