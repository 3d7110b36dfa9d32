// Host-name targets: resolved at each round through an injected resolver; a failed or slow lookup is a missed probe
// of that target (with why), the lookup's time comes out of the round's timeout, and tcp/http/dns probes to a name's
// address ask for their [WAN address, target address] pair first. Real sockets on loopback.
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrackSettings } from '../../src/config/resolved.js';
import { resolveHost, systemLookup, type Lookup } from '../../src/track/resolve.js';
import { roundWith, type Egress } from '../../src/track/probes.js';

const LO: Egress = { device: 'lo', mark: 0x100, address: '127.0.0.1' };

const settings = (o: Partial<TrackSettings>): TrackSettings => ({
  targets: ['probe.test'],
  family: 'ipv4',
  method: 'tcp',
  reliability: 1,
  count: 1,
  timeout: 1,
  interval: 1,
  failureInterval: 1,
  recoveryInterval: 1,
  down: 3,
  up: 3,
  expectStatus: null,
  dnsName: null,
  quality: null,
  ...o,
});

const enotfound = (): Promise<string[]> => Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND probe.test'), { code: 'ENOTFOUND' }));
const never = (): Promise<string[]> => new Promise<string[]>(() => undefined);
const after = (ms: number, addresses: string[]) => () => new Promise<string[]>((r) => setTimeout(() => r(addresses), ms));

describe('resolveHost', () => {
  const signal = new AbortController().signal;

  it('gives the first address in the asked family', async () => {
    const asked: [string, number][] = [];
    const lookup: Lookup = (name, family) => {
      asked.push([name, family]);
      return Promise.resolve(['192.0.2.7', '192.0.2.8']);
    };
    expect(await resolveHost('probe.test', 4, lookup, 1000, signal)).toMatchObject({ address: '192.0.2.7' });
    expect(asked).toEqual([['probe.test', 4]]);
  });

  it.each<[string, Lookup, RegExp]>([
    ['an unknown name', enotfound, /^resolve failed: ENOTFOUND$/],
    ['a name with no address of the family', () => Promise.resolve([]), /^resolve failed: no IPv4 address$/],
    ['a resolver that never answers', never, /^resolve failed: no answer within 50 ms$/],
  ])('%s is an error, never a throw', async (_what, lookup, error) => {
    const r = await resolveHost('probe.test', 4, lookup, 50, signal);
    expect('error' in r ? r.error : r).toMatch(error);
    expect(r.ms).toBeLessThan(1000);
  });

  it('stops waiting when the round is cancelled', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 20);
    expect(await resolveHost('probe.test', 4, never, 10_000, ac.signal)).toMatchObject({ error: 'cancelled' });
  });
});

describe('a round with host-name targets', () => {
  let tcp: Server;
  let http: HttpServer;
  let tcpPort = 0;
  let httpPort = 0;
  const seenHeaders: IncomingHttpHeaders[] = [];
  const signal = new AbortController().signal;

  beforeAll(async () => {
    tcp = createServer((s) => s.destroy());
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    tcpPort = (tcp.address() as { port: number }).port;
    // Answers 100 ms late: within a 0.2 s timeout, unless a lookup took most of it.
    http = createHttpServer((req, res) => {
      seenHeaders.push(req.headers);
      setTimeout(() => res.end('ok'), 100);
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    httpPort = (http.address() as { port: number }).port;
  });
  afterAll(() => {
    tcp.close();
    http.close();
  });

  const recorder = () => {
    const calls: { pairs: (readonly [string, string])[]; seconds: number }[] = [];
    return {
      calls,
      allowPairs: (pairs: readonly (readonly [string, string])[], seconds: number) => {
        calls.push({ pairs: [...pairs], seconds });
        return Promise.resolve();
      },
    };
  };

  it('probes the address the name resolves to, after putting its pair in the set; results keep the name', async () => {
    const pairs = recorder();
    const round = roundWith({ lookup: () => Promise.resolve(['127.0.0.1']), allowPairs: pairs.allowPairs });
    const results = await round(settings({ targets: [`probe.test:${tcpPort}`], count: 2, timeout: 1 }), LO, signal);
    expect(results).toMatchObject([
      { target: `probe.test:${tcpPort}`, ok: true, error: null },
      { target: `probe.test:${tcpPort}`, ok: true, error: null },
    ]);
    // Long enough for count probes of timeout each, one after another.
    expect(pairs.calls).toEqual([{ pairs: [['127.0.0.1', '127.0.0.1']], seconds: 2 + 5 }]);
  });

  it("IPv6 tracking (track6) looks the name up in IPv6, probes from the WAN's IPv6 address and asks for an IPv6 pair", async () => {
    const server6 = createServer((sock) => sock.end());
    await new Promise<void>((r) => server6.listen(0, '::1', r));
    const port6 = (server6.address() as { port: number }).port;
    try {
      const asked: (4 | 6)[] = [];
      const calls: { pairs: (readonly [string, string])[]; family: string }[] = [];
      const round = roundWith({
        lookup: (_name, family) => (asked.push(family), Promise.resolve(['::1'])),
        allowPairs: (pairs, _seconds, family) => (calls.push({ pairs: [...pairs], family }), Promise.resolve()),
      });
      const results = await round(settings({ targets: [`probe.test:${port6}`], family: 'ipv6' }), { ...LO, address6: '::1' }, signal);
      expect(results).toMatchObject([{ target: `probe.test:${port6}`, ok: true, error: null }]);
      expect(asked).toEqual([6]);
      expect(calls).toEqual([{ pairs: [['::1', '::1']], family: 'ipv6' }]);
    } finally {
      server6.close();
    }
  });

  it('an address target needs no lookup and no pair (compiled into the ruleset)', async () => {
    const pairs = recorder();
    const round = roundWith({ lookup: enotfound, allowPairs: pairs.allowPairs });
    expect(await round(settings({ targets: [`127.0.0.1:${tcpPort}`] }), LO, signal)).toMatchObject([{ ok: true }]);
    expect(pairs.calls).toEqual([]);
  });

  it('a name that does not resolve is count missed probes of that target, the others probed as usual', async () => {
    const pairs = recorder();
    const lookup: Lookup = (name) => (name === 'gone.test' ? enotfound() : Promise.resolve(['127.0.0.1']));
    const round = roundWith({ lookup, allowPairs: pairs.allowPairs });
    const results = await round(settings({ targets: [`gone.test:${tcpPort}`, `probe.test:${tcpPort}`], count: 2 }), LO, signal);
    expect(results).toEqual([
      { target: `gone.test:${tcpPort}`, ok: false, rttMs: null, error: 'resolve failed: ENOTFOUND' },
      { target: `gone.test:${tcpPort}`, ok: false, rttMs: null, error: 'resolve failed: ENOTFOUND' },
      expect.objectContaining({ target: `probe.test:${tcpPort}`, ok: true }),
      expect.objectContaining({ target: `probe.test:${tcpPort}`, ok: true }),
    ]);
    expect(pairs.calls.map((c) => c.pairs)).toEqual([[['127.0.0.1', '127.0.0.1']]]);
  });

  it('a lookup that outlasts the timeout is a missed probe, within the timeout', async () => {
    const round = roundWith({ lookup: never, allowPairs: recorder().allowPairs });
    const t0 = performance.now();
    const results = await round(settings({ targets: [`probe.test:${tcpPort}`], timeout: 0.2 }), LO, signal);
    expect(results).toEqual([{ target: `probe.test:${tcpPort}`, ok: false, rttMs: null, error: 'resolve failed: no answer within 200 ms' }]);
    expect(performance.now() - t0).toBeLessThan(600);
  });

  it("the lookup's time comes out of the probe's timeout: a 100 ms answer fits 0.2 s alone, not after a 150 ms lookup", async () => {
    const url = `http://probe.test:${httpPort}/health`;
    const fast = roundWith({ lookup: () => Promise.resolve(['127.0.0.1']), allowPairs: recorder().allowPairs });
    expect(await fast(settings({ method: 'http', targets: [url], timeout: 0.2 }), LO, signal)).toMatchObject([{ target: url, ok: true }]);
    const slow = roundWith({ lookup: after(150, ['127.0.0.1']), allowPairs: recorder().allowPairs });
    expect(await slow(settings({ method: 'http', targets: [url], timeout: 0.2 }), LO, signal)).toMatchObject([{ target: url, ok: false }]);
  });

  it('an http probe to a name connects to its address and still sends the name as Host', async () => {
    seenHeaders.length = 0;
    const round = roundWith({ lookup: () => Promise.resolve(['127.0.0.1']), allowPairs: recorder().allowPairs });
    const url = `http://probe.test:${httpPort}/health`;
    expect(await round(settings({ method: 'http', targets: [url] }), LO, signal)).toMatchObject([{ ok: true }]);
    expect(seenHeaders.map((h) => h.host)).toEqual([`probe.test:${httpPort}`]);
  });

  it('a pair that cannot be put in the set: the probe is not sent (it could leave through another WAN)', async () => {
    const round = roundWith({
      lookup: () => Promise.resolve(['127.0.0.1']),
      allowPairs: () => Promise.reject(new Error('nft: No such file or directory')),
    });
    expect(await round(settings({ targets: [`probe.test:${tcpPort}`] }), LO, signal)).toEqual([
      { target: `probe.test:${tcpPort}`, ok: false, rttMs: null, error: 'cannot keep the probe on lo: nft: No such file or directory' },
    ]);
  });

  it('a ping to a name asks no pair: the echoes carry the WAN mark themselves', async () => {
    const pairs = recorder();
    const round = roundWith({ lookup: enotfound, allowPairs: pairs.allowPairs });
    expect(await round(settings({ method: 'ping', targets: ['gone.test'], count: 3 }), LO, signal)).toEqual(
      Array.from({ length: 3 }, () => ({ target: 'gone.test', ok: false, rttMs: null, error: 'resolve failed: ENOTFOUND' })),
    );
    expect(pairs.calls).toEqual([]);
  });
});

describe('systemLookup', () => {
  it('resolves through the system resolver: localhost in IPv4', async () => {
    expect(await systemLookup('localhost', 4)).toContain('127.0.0.1');
  });
});
