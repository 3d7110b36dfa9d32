// Probe parsing: `ping -n` output (iputils 20221126, captured from real runs between network namespaces) becomes
// one result per echo sent; the DNS probe's query is a well-formed NS question; IPv6 targets leave from the IPv6 address.
import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { trackSettings } from '../../src/config/normalize.js';
import type { TrackSettings } from '../../src/config/resolved.js';
import { dnsQuery, parsePing, pingFamily, roundWith } from '../../src/track/probes.js';
import { systemLookup } from '../../src/track/resolve.js';

/** A round as the daemon's probe loops run one, with the system resolver. */
const runRound = roundWith({ lookup: systemLookup });

// LC_ALL=C ping -n -c 3 -i 0.2 -W 1 198.51.100.9
const ALL_REPLIES = `PING 198.51.100.9 (198.51.100.9) 56(84) bytes of data.
64 bytes from 198.51.100.9: icmp_seq=1 ttl=64 time=0.497 ms
64 bytes from 198.51.100.9: icmp_seq=2 ttl=64 time=0.071 ms
64 bytes from 198.51.100.9: icmp_seq=3 ttl=64 time=0.072 ms

--- 198.51.100.9 ping statistics ---
3 packets transmitted, 3 received, 0% packet loss, time 406ms
rtt min/avg/max/mdev = 0.071/0.213/0.497/0.200 ms
`;

// Through -I (the daemon binds to the WAN's device) the header names the source. RTTs edited to iputils' formats
// for slower replies: one decimal from 10 ms, none from 100 ms.
const ALL_REPLIES_BOUND = `PING 192.0.2.5 (192.0.2.5) from 198.51.100.2 va: 56(84) bytes of data.
64 bytes from 192.0.2.5: icmp_seq=1 ttl=63 time=12.4 ms
64 bytes from 192.0.2.5: icmp_seq=2 ttl=63 time=103 ms

--- 192.0.2.5 ping statistics ---
2 packets transmitted, 2 received, 0% packet loss, time 101ms
rtt min/avg/max/mdev = 12.400/57.700/103.000/45.300 ms
`;

// The second echo request dropped by the target (nft numgen drop).
const LOST_MIDDLE = `PING 198.51.100.9 (198.51.100.9) 56(84) bytes of data.
64 bytes from 198.51.100.9: icmp_seq=1 ttl=64 time=0.034 ms
64 bytes from 198.51.100.9: icmp_seq=3 ttl=64 time=0.078 ms

--- 198.51.100.9 ping statistics ---
3 packets transmitted, 2 received, 33.3333% packet loss, time 410ms
rtt min/avg/max/mdev = 0.034/0.056/0.078/0.022 ms
`;

// The router 198.51.100.9 cannot resolve the host on its connected network (ARP fails).
const HOST_UNREACHABLE = `PING 203.0.113.77 (203.0.113.77) 56(84) bytes of data.
From 198.51.100.9 icmp_seq=1 Destination Host Unreachable
From 198.51.100.9 icmp_seq=2 Destination Host Unreachable
From 198.51.100.9 icmp_seq=3 Destination Host Unreachable

--- 203.0.113.77 ping statistics ---
3 packets transmitted, 0 received, +3 errors, 100% packet loss, time 407ms
pipe 3
`;

// ping -t 1 through the router.
const TTL_EXCEEDED = `PING 192.0.2.5 (192.0.2.5) 56(84) bytes of data.
From 198.51.100.9 icmp_seq=1 Time to live exceeded
From 198.51.100.9 icmp_seq=2 Time to live exceeded

--- 192.0.2.5 ping statistics ---
2 packets transmitted, 0 received, +2 errors, 100% packet loss, time 203ms

`;

// The router rejects with icmp net-unreachable.
const NET_UNREACHABLE = `PING 192.0.2.5 (192.0.2.5) 56(84) bytes of data.
From 198.51.100.9 icmp_seq=1 Destination Net Unreachable
From 198.51.100.9 icmp_seq=2 Destination Net Unreachable

--- 192.0.2.5 ping statistics ---
2 packets transmitted, 0 received, +2 errors, 100% packet loss, time 202ms

`;

// The target answers, except the second echo, which the router rejects.
const MIXED = `PING 198.51.100.9 (198.51.100.9) 56(84) bytes of data.
64 bytes from 198.51.100.9: icmp_seq=1 ttl=64 time=0.049 ms
From 198.51.100.9 icmp_seq=2 Destination Host Unreachable
64 bytes from 198.51.100.9: icmp_seq=3 ttl=64 time=0.080 ms

--- 198.51.100.9 ping statistics ---
3 packets transmitted, 2 received, +1 errors, 33.3333% packet loss, time 406ms
rtt min/avg/max/mdev = 0.049/0.064/0.080/0.015 ms
`;

// Every echo reply duplicated on the way back (nft dup), except the last.
const DUPLICATES = `PING 198.51.100.9 (198.51.100.9) 56(84) bytes of data.
64 bytes from 198.51.100.9: icmp_seq=1 ttl=64 time=0.042 ms
64 bytes from 198.51.100.9: icmp_seq=1 ttl=64 time=0.042 ms (DUP!)
64 bytes from 198.51.100.9: icmp_seq=2 ttl=64 time=0.083 ms
64 bytes from 198.51.100.9: icmp_seq=2 ttl=64 time=0.084 ms (DUP!)
64 bytes from 198.51.100.9: icmp_seq=3 ttl=64 time=0.088 ms

--- 198.51.100.9 ping statistics ---
3 packets transmitted, 3 received, +2 duplicates, 0% packet loss, time 405ms
rtt min/avg/max/mdev = 0.042/0.067/0.088/0.021 ms
`;

// The first hop 198.51.100.9 redirects to a better next hop on the same link, and forwards every echo anyway:
// all three are answered (ping itself reports 0% loss and exits 0).
const REDIRECTED = `PING 192.0.2.5 (192.0.2.5) 56(84) bytes of data.
From 198.51.100.9: icmp_seq=1 Redirect Host(New nexthop: 198.51.100.3)
64 bytes from 192.0.2.5: icmp_seq=1 ttl=64 time=0.431 ms
From 198.51.100.9: icmp_seq=2 Redirect Host(New nexthop: 198.51.100.3)
64 bytes from 192.0.2.5: icmp_seq=2 ttl=64 time=0.151 ms
From 198.51.100.9: icmp_seq=3 Redirect Host(New nexthop: 198.51.100.3)
64 bytes from 192.0.2.5: icmp_seq=3 ttl=64 time=0.114 ms

--- 192.0.2.5 ping statistics ---
3 packets transmitted, 3 received, 0% packet loss, time 408ms
rtt min/avg/max/mdev = 0.114/0.232/0.431/0.141 ms
`;

const reply = (rttMs: number) => ({ ok: true, rttMs, error: null });
const failed = (error: string) => ({ ok: false, rttMs: null, error });

describe('parsePing', () => {
  it('reads every reply with its RTT', () => {
    expect(parsePing(ALL_REPLIES, 3)).toEqual([reply(0.497), reply(0.071), reply(0.072)]);
  });

  it('reads replies when bound to a device, and RTTs printed without decimals', () => {
    expect(parsePing(ALL_REPLIES_BOUND, 2)).toEqual([reply(12.4), reply(103)]);
  });

  it('an icmp_seq gap is a lost echo: that one fails with "no reply"', () => {
    expect(parsePing(LOST_MIDDLE, 3)).toEqual([reply(0.034), failed('no reply'), reply(0.078)]);
  });

  it.each<[string, string, number, string]>([
    ['Destination Host Unreachable', HOST_UNREACHABLE, 3, 'Destination Host Unreachable (from 198.51.100.9)'],
    ['Time to live exceeded', TTL_EXCEEDED, 2, 'Time to live exceeded (from 198.51.100.9)'],
    ['Destination Net Unreachable', NET_UNREACHABLE, 2, 'Destination Net Unreachable (from 198.51.100.9)'],
  ])('an ICMP error (%s) is a failure naming the router, never a success', (_what, out, count, error) => {
    const r = parsePing(out, count);
    expect(r).toEqual(Array.from({ length: count }, () => failed(error)));
  });

  it('an error for one echo fails only that echo', () => {
    expect(parsePing(MIXED, 3)).toEqual([reply(0.049), failed('Destination Host Unreachable (from 198.51.100.9)'), reply(0.08)]);
  });

  it('a duplicate reply does not double the echo: the first RTT counts', () => {
    expect(parsePing(DUPLICATES, 3)).toEqual([reply(0.042), reply(0.083), reply(0.088)]);
  });

  it('a reply after an ICMP error for the same echo does not undo the error', () => {
    const out = 'From 198.51.100.9 icmp_seq=1 Destination Host Unreachable\n64 bytes from 198.51.100.9: icmp_seq=1 ttl=64 time=0.1 ms\n';
    expect(parsePing(out, 1)).toEqual([failed('Destination Host Unreachable (from 198.51.100.9)')]);
  });

  it('ignores replies to echoes beyond count', () => {
    const out = '64 bytes from 192.0.2.1: icmp_seq=1 ttl=64 time=1.5 ms\n64 bytes from 192.0.2.1: icmp_seq=2 ttl=64 time=2.5 ms\n';
    expect(parsePing(out, 1)).toEqual([reply(1.5)]);
  });

  it.each([
    ['all replies', ALL_REPLIES],
    ['a lost echo', LOST_MIDDLE],
    ['unreachable', HOST_UNREACHABLE],
    ['ttl exceeded', TTL_EXCEEDED],
    ['duplicates', DUPLICATES],
    ['mixed', MIXED],
    ['no output at all', ''],
    ['only a header', 'PING 192.0.2.1 (192.0.2.1) 56(84) bytes of data.\n'],
  ])('returns exactly count results (%s)', (_what, out) => {
    for (const count of [1, 2, 3, 5, 10]) {
      const r = parsePing(out, count);
      expect(r).toHaveLength(count);
      // Echoes ping was never asked about cannot have been answered.
      expect(r.slice(3).every((p) => !p.ok && p.error === 'no reply')).toBe(true);
    }
  });

  it('empty output is count lost echoes', () => {
    expect(parsePing('', 2)).toEqual([failed('no reply'), failed('no reply')]);
  });

  // An ICMP redirect ("From X: icmp_seq=N Redirect Host(...)") is advice, not an error: the router forwarded the echo.
  it('an ICMP redirect is not a failure: the echoes were forwarded and answered', () => {
    expect(parsePing(REDIRECTED, 3)).toEqual([reply(0.431), reply(0.151), reply(0.114)]);
  });
});

describe('dnsQuery', () => {
  it('has the id, RD set, one question and no other records', () => {
    const q = dnsQuery(0xbeef, 'example.com');
    expect(q.readUInt16BE(0)).toBe(0xbeef);
    expect(q.readUInt16BE(2)).toBe(0x0100);
    expect(q.readUInt16BE(4)).toBe(1); // QDCOUNT
    expect(q.readUInt16BE(6)).toBe(0); // ANCOUNT
    expect(q.readUInt16BE(8)).toBe(0); // NSCOUNT
    expect(q.readUInt16BE(10)).toBe(0); // ARCOUNT
  });

  it.each([0, 1, 0x1234, 0xffff])('writes id %s big-endian', (id) => {
    expect(dnsQuery(id, '.').readUInt16BE(0)).toBe(id);
  });

  it.each<[string, number[]]>([
    ['example.com', [7, ...Buffer.from('example'), 3, ...Buffer.from('com'), 0]],
    ['example.com.', [7, ...Buffer.from('example'), 3, ...Buffer.from('com'), 0]],
    ['.', [0]],
    ['a.b.c', [1, 0x61, 1, 0x62, 1, 0x63, 0]],
  ])('encodes the name %j as length-prefixed labels ending in a zero byte, then type NS class IN', (name, qname) => {
    const q = dnsQuery(7, name);
    expect([...q.subarray(12)]).toEqual([...qname, 0, 2, 0, 1]);
    expect(q.length).toBe(12 + qname.length + 4);
  });
});

describe('runRound with IPv6 targets', () => {
  const settings = (targets: string[]) =>
    trackSettings({ device: 'lo', family: 'ipv6', track: { method: 'tcp', targets: targets as [string], timeout: 2 } }) as TrackSettings;

  it("connects to an [address]:port target from the WAN's IPv6 address", async () => {
    const server = createServer((s) => s.end());
    await new Promise<void>((resolve) => server.listen(0, '::1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const r = await runRound(settings([`[::1]:${port}`]), { device: 'lo', mark: 0x100, address: '127.0.0.1', address6: '::1' }, new AbortController().signal);
      expect(r).toEqual([{ target: `[::1]:${port}`, ok: true, rttMs: expect.any(Number), error: null }]);
    } finally {
      server.close();
    }
  });

  it('fails an IPv6 target when the WAN has no IPv6 address, saying so', async () => {
    const r = await runRound(
      settings(['[2001:db8::1]:443']),
      { device: 'wan1', mark: 0x100, address: '192.0.2.2', address6: null },
      new AbortController().signal,
    );
    expect(r).toEqual([{ target: '[2001:db8::1]:443', ok: false, rttMs: null, error: 'device wan1 has no IPv6 address to probe from' }]);
  });

  it.each([
    ['2001:db8::1', ['-6']],
    ['192.0.2.1', []],
  ])('ping of %s gets %j', (host, flag) => {
    expect(pingFamily(host)).toEqual(flag);
  });
});
