// Address parsing and interval normalisation for both families (src/model/net.ts), IPv6 in particular.
import { describe, expect, it } from 'vitest';
import { formatIpv4, formatIpv6, normaliseIntervals, normaliseIpIntervals, parseIpElement, parseIpv4, type IpInterval } from '../../src/model/net.js';

const v6 = (text: string): bigint => {
  // Written out here, not with net.ts: eight full groups.
  const groups = text.split(':');
  if (groups.length !== 8) throw new Error(`test helper wants 8 groups: ${text}`);
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
};
const ALL_ONES = (1n << 128n) - 1n;

describe('parseIpElement: IPv6 addresses, prefixes and ranges', () => {
  it.each<[string, string, bigint, bigint]>([
    ['a compressed address is one address', '2001:db8::1', v6('2001:db8:0:0:0:0:0:1'), v6('2001:db8:0:0:0:0:0:1')],
    ['upper case reads as lower case', '2001:DB8::A', v6('2001:db8:0:0:0:0:0:a'), v6('2001:db8:0:0:0:0:0:a')],
    ['an uncompressed address', '2001:db8:0:0:0:0:0:4', v6('2001:db8:0:0:0:0:0:4'), v6('2001:db8:0:0:0:0:0:4')],
    ['an IPv4 tail fills the last two groups', '::ffff:192.0.2.1', v6('0:0:0:0:0:ffff:c000:201'), v6('0:0:0:0:0:ffff:c000:201')],
    ['a /32 covers its 2^96 addresses', '2001:db8::/32', v6('2001:db8:0:0:0:0:0:0'), v6('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff')],
    ['a /64 ends where its host part does', '2001:db8:0:1::/64', v6('2001:db8:0:1:0:0:0:0'), v6('2001:db8:0:1:ffff:ffff:ffff:ffff')],
    ['a /127 is two addresses', '2001:db8::4/127', v6('2001:db8:0:0:0:0:0:4'), v6('2001:db8:0:0:0:0:0:5')],
    ['a /128 is one address', '2001:db8::7/128', v6('2001:db8:0:0:0:0:0:7'), v6('2001:db8:0:0:0:0:0:7')],
    ['::/0 is every address', '::/0', 0n, ALL_ONES],
    ['a range across a /64 boundary', '2001:db8::e-2001:db8:0:1::1', v6('2001:db8:0:0:0:0:0:e'), v6('2001:db8:0:1:0:0:0:1')],
    ['a range of one address', '2001:db8::c-2001:db8::c', v6('2001:db8:0:0:0:0:0:c'), v6('2001:db8:0:0:0:0:0:c')],
  ])('%s (%s)', (_name, text, first, last) => {
    expect(parseIpElement(text)).toEqual({ interval: { family: 'ipv6', first, last } });
  });

  it.each<[string, string, RegExp]>([
    ['host bits set under the prefix', '2001:db8::1/64', /has host bits set \(did you mean 2001:db8::\/64\?\)/],
    ['a prefix longer than 128', '2001:db8::/129', /not an IPv6 CIDR/],
    ['a range that ends before it starts', '2001:db8::9-2001:db8::1', /ends before it starts/],
    ['a range from IPv6 to IPv4', '2001:db8::1-192.0.2.1', /not an IPv6 range/],
    ['a range from IPv4 to IPv6', '192.0.2.1-2001:db8::1', /not an IPv6 range/],
    ['three colons', '2001:db8:::1', /not an IPv6 address/],
    ['two "::"', '2001::db8::1', /not an IPv6 address/],
    ['nine groups', '1:2:3:4:5:6:7:8:9', /not an IPv6 address/],
    ['a group of five digits', '2001:db8::12345', /not an IPv6 address/],
    ['a non-hex digit', '2001:db8::g', /not an IPv6 address/],
  ])('refuses %s (%s)', (_name, text, message) => {
    const r = parseIpElement(text);
    expect('error' in r && r.error).toMatch(message);
  });
});

describe('normaliseIpIntervals: IPv6 intervals become the fewest prefixes', () => {
  const iv = (text: string): IpInterval => {
    const r = parseIpElement(text);
    if ('error' in r) throw new Error(r.error);
    return r.interval;
  };
  it.each<[string, string[], unknown[]]>([
    ['an aligned range is one prefix', ['2001:db8::-2001:db8::ff'], [{ kind: 'prefix', addr: '2001:db8::', len: 120 }]],
    [
      'an unaligned range is split at alignment boundaries',
      ['2001:db8::1-2001:db8::6'],
      [
        { kind: 'addr', addr: '2001:db8::1' },
        { kind: 'prefix', addr: '2001:db8::2', len: 127 },
        { kind: 'prefix', addr: '2001:db8::4', len: 127 },
        { kind: 'addr', addr: '2001:db8::6' },
      ],
    ],
    ['two adjacent halves merge into their /64', ['2001:db8:0:0:8000::/65', '2001:db8::/65'], [{ kind: 'prefix', addr: '2001:db8::', len: 64 }]],
    ['an address inside a prefix disappears into it', ['2001:db8::5', '2001:db8::/64'], [{ kind: 'prefix', addr: '2001:db8::', len: 64 }]],
    ['overlapping ranges merge', ['2001:db8::-2001:db8::9', '2001:db8::8-2001:db8::f'], [{ kind: 'prefix', addr: '2001:db8::', len: 124 }]],
    ['a /128 is written as an address', ['2001:db8::7/128'], [{ kind: 'addr', addr: '2001:db8::7' }]],
    ['::/0 stays one prefix', ['::/0', '2001:db8::1'], [{ kind: 'prefix', addr: '::', len: 0 }]],
    ['the whole space as a range is ::/0', ['::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'], [{ kind: 'prefix', addr: '::', len: 0 }]],
    [
      'the top address survives',
      ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
      [{ kind: 'prefix', addr: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe', len: 127 }],
    ],
    [
      'upper case and an IPv4 tail come out as nft lists them',
      ['2001:DB8::A', '::ffff:c000:200/120'],
      [
        { kind: 'prefix', addr: '::ffff:192.0.2.0', len: 120 },
        { kind: 'addr', addr: '2001:db8::a' },
      ],
    ],
    ['IPv4 intervals are left out of an IPv6 normalisation', ['10.0.0.0/8', '2001:db8::1'], [{ kind: 'addr', addr: '2001:db8::1' }]],
  ])('%s', (_name, texts, expected) => {
    expect(normaliseIpIntervals('ipv6', texts.map(iv))).toEqual(expected);
  });

  it('IPv4 intervals normalise on their own, IPv6 ones left out', () => {
    expect(normaliseIpIntervals('ipv4', ['10.0.0.0-10.0.0.255', '2001:db8::/64', '10.0.1.0/24'].map(iv))).toEqual([
      { kind: 'prefix', addr: '10.0.0.0', len: 23 },
    ]);
  });

  it.each<[string, bigint, string]>([
    ['the first longest zero run becomes "::"', v6('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1'],
    ['a longer later run wins', v6('2001:0:0:1:0:0:0:1'), '2001:0:0:1::1'],
    ['a single zero group is not compressed', v6('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1'],
    ['all zeros', 0n, '::'],
    // As nft 1.0.6 lists them (glibc inet_ntop); hex there would not read back as applied.
    ['an IPv4-mapped address ends in a dotted quad', v6('0:0:0:0:0:ffff:c000:201'), '::ffff:192.0.2.1'],
    ['an IPv4-compatible address ends in a dotted quad', v6('0:0:0:0:0:0:102:304'), '::1.2.3.4'],
    ['::1 is not IPv4-compatible', 1n, '::1'],
    ['a NAT64 address stays hex', v6('64:ff9b:0:0:0:0:c000:201'), '64:ff9b::c000:201'],
    ['::ffff:0:0 is mapped too', v6('0:0:0:0:0:ffff:0:0'), '::ffff:0.0.0.0'],
  ])('formatIpv6: %s', (_name, value, text) => {
    expect(formatIpv6(value)).toBe(text);
  });
});

describe('parseIpv4 and formatIpv4 (the hand-written scanner against a plain definition)', () => {
  // The definition: four dot-separated decimal octets 0-255, no leading zeros, nothing else.
  const reference = (text: string): number | undefined => {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
    if (!m) return undefined;
    const octets = m.slice(1).map((p) => (p.length > 1 && p.startsWith('0') ? NaN : Number(p)));
    return octets.every((o) => o <= 255) ? octets.reduce((a, o) => a * 256 + o, 0) : undefined;
  };

  it.each([
    '0.0.0.0',
    '255.255.255.255',
    '192.0.2.1',
    '10.0.0.255',
    '1.2.3',
    '1.2.3.4.',
    '.1.2.3.4',
    '1..2.3',
    '01.2.3.4',
    '1.2.3.00',
    '256.1.1.1',
    '1.2.3.1000',
    '1.2.3.4/32',
    ' 1.2.3.4',
    '1.2.3.4 ',
    '',
    '....',
    '1.2.3.-4',
    '١.2.3.4',
  ])('%j', (text) => {
    expect(parseIpv4(text)).toBe(reference(text));
  });

  it('agrees with the definition on 20,000 random strings of dot-separated digits, and round-trips what it accepts', () => {
    let seed = 7;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      // Three to five dot-separated runs of zero to four digits: near misses and valid addresses alike.
      const parts = Array.from({ length: 3 + (next() % 3) }, () => Array.from({ length: next() % 5 }, () => String(next() % 10)).join(''));
      const text = parts.join('.');
      const got = parseIpv4(text);
      expect(got, text).toBe(reference(text));
      if (got !== undefined) {
        accepted++;
        expect(formatIpv4(got)).toBe(text);
      }
    }
    expect(accepted).toBeGreaterThan(100);
  });

  it('IPv4 intervals normalise the same through the number path and as big integers in the IPv6 code', () => {
    const iv = (a: number, b: number): IpInterval => ({ family: 'ipv4', first: BigInt(a), last: BigInt(b) });
    const cases: IpInterval[][] = [
      [iv(0, 2 ** 32 - 1)],
      [iv(5, 5), iv(6, 9), iv(1, 3)],
      [iv(167772160, 167772415), iv(167772416, 167772671)],
      [iv(3, 1000), iv(2 ** 32 - 7, 2 ** 32 - 1)],
    ];
    for (const c of cases) {
      const numbers = normaliseIntervals(c.map((i) => ({ first: Number(i.first), last: Number(i.last) })));
      expect(normaliseIpIntervals('ipv4', c)).toEqual(numbers);
    }
    expect(normaliseIpIntervals('ipv4', [iv(0, 2 ** 32 - 1)])).toEqual([{ kind: 'prefix', addr: '0.0.0.0', len: 0 }]);
    expect(normaliseIpIntervals('ipv4', [iv(1, 6)])).toEqual([
      { kind: 'addr', addr: '0.0.0.1' },
      { kind: 'prefix', addr: '0.0.0.2', len: 31 },
      { kind: 'prefix', addr: '0.0.0.4', len: 31 },
      { kind: 'addr', addr: '0.0.0.6' },
    ]);
  });
});

describe('parseIpElement on IPv4 CIDRs: the address and the length read in place', () => {
  // The definition: an address parseIpv4 accepts, '/', one or two decimal digits (leading zero allowed) up to 32.
  const reference = (text: string): { first: bigint; last: bigint } | undefined => {
    const m = /^([^/]*)\/(\d{1,2})$/.exec(text);
    const addr = m ? parseIpv4(m[1] as string) : undefined;
    const len = m ? Number(m[2]) : NaN;
    if (addr === undefined || len > 32 || addr % 2 ** (32 - len) !== 0) return undefined;
    return { first: BigInt(addr), last: BigInt(addr + 2 ** (32 - len) - 1) };
  };

  it.each([
    '10.0.0.0/8',
    '10.0.0.0/08',
    '0.0.0.0/0',
    '0.0.0.0/00',
    '192.0.2.1/32',
    '192.0.2.0/33',
    '192.0.2.0/',
    '192.0.2.0/024',
    '192.0.2.0/2a',
    '192.0.2.0/-1',
    '192.0.2.0/ 24',
    '192.0.2.0/24 ',
    '192.0.2.0/٢',
    '192.0.2/24',
    '/24',
    '192.0.2.1/24',
  ])('%j', (text) => {
    const got = parseIpElement(text);
    const want = reference(text);
    expect('error' in got ? undefined : { first: got.interval.first, last: got.interval.last }).toEqual(want);
  });

  it.each<[string, string]>([
    ['192.0.2.0/33', '"192.0.2.0/33" is not an IPv4 CIDR (expected a.b.c.d/0-32)'],
    ['192.0.2.0/2a', '"192.0.2.0/2a" is not an IPv4 CIDR (expected a.b.c.d/0-32)'],
    ['192.0.2.1/24', '"192.0.2.1/24" has host bits set (did you mean 192.0.2.0/24?)'],
    ['2001:db8::/1290', '"2001:db8::/1290" is not an IPv6 CIDR (expected a:b::/0-128)'],
    ['2001:db8::/x', '"2001:db8::/x" is not an IPv6 CIDR (expected a:b::/0-128)'],
  ])('%j is refused with what is valid', (text, error) => {
    expect(parseIpElement(text)).toEqual({ error });
  });
});

describe('parseIpElement keeps its results', () => {
  it('gives the same result for the same text (validation and compile parse each address once)', () => {
    const a = parseIpElement('198.51.100.0/24');
    expect(parseIpElement('198.51.100.0/24')).toBe(a);
    expect(a).toEqual({ interval: { family: 'ipv4', first: 3325256704n, last: 3325256959n } });
    const e = parseIpElement('198.51.100.1/24');
    expect(parseIpElement('198.51.100.1/24')).toBe(e);
    expect(e).toEqual({ error: '"198.51.100.1/24" has host bits set (did you mean 198.51.100.0/24?)' });
  });

  it('stays bounded: a flood of distinct texts starts it afresh, with the same answers', () => {
    const first = parseIpElement('2001:db8::/32');
    for (let i = 0; i < 20_000; i++) parseIpElement(`10.${i >> 8}.${i & 255}.0/24`);
    const again = parseIpElement('2001:db8::/32');
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
  });
});
