// mwan3 fixtures -> nft-mwan configs: each checked against its golden config and notes (UPDATE_GOLDEN=1 rewrites).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { compile } from '../../src/compile/compile.js';
import { EMPTY_FACTS, type SystemFacts } from '../../src/model/facts.js';
import { validateConfig } from '../../src/config/validate.js';
import { normalize } from '../../src/config/normalize.js';
import type { NftMwanConfig } from '../../src/generated/config.js';
import { importMwan3 } from '../../src/uci/import.js';
import { parseUci } from '../../src/uci/parse.js';

const root = new URL('./fixtures/', import.meta.url).pathname;
const update = process.env.UPDATE_GOLDEN === '1';
const Ajv = createRequire(import.meta.url)('ajv') as typeof import('ajv').default;
const validateBatch = new Ajv({ allErrors: true, strict: false }).compile(
  JSON.parse(readFileSync(new URL('../../schema/nft-batch.schema.json', import.meta.url), 'utf8')),
);
const network = parseUci(readFileSync(join(root, 'network-lab'), 'utf8'), 'network-lab');

describe('import-uci golden fixtures', () => {
  const cases = readdirSync(root)
    .filter((f) => existsSync(join(root, f, 'mwan3')))
    .sort();
  it('has the shipped example and at least five variants', () => expect(cases.length).toBeGreaterThanOrEqual(6));

  it.each(cases)('%s', (name) => {
    const dir = join(root, name);
    // A fixture may bring its own network config (more devices than the lab has); the rest use the lab's.
    const own = join(dir, 'network');
    const net = existsSync(own) ? parseUci(readFileSync(own, 'utf8'), `${name}/network`) : network;
    const { config, notes } = importMwan3(parseUci(readFileSync(join(dir, 'mwan3'), 'utf8'), `${name}/mwan3`), { network: net });
    const v = validateConfig(config);
    expect(v.ok ? [] : v.issues).toEqual([]);
    const outputs: Record<string, string> = { 'config.json': `${JSON.stringify(config, null, 2)}\n`, 'notes.txt': `${notes.join('\n')}\n` };
    for (const [file, text] of Object.entries(outputs)) {
      if (update) writeFileSync(join(dir, file), text);
      expect(text).toBe(readFileSync(join(dir, file), 'utf8'));
    }
  });

  // The lab applies the realistic fixtures; this also covers every-option, whose devices the lab does not have.
  it.each(cases)('%s compiles into a batch libnftables JSON accepts', (name) => {
    const config = JSON.parse(readFileSync(join(root, name, 'config.json'), 'utf8')) as NftMwanConfig;
    const names = Object.keys(config.interfaces);
    const facts: SystemFacts = {
      ...EMPTY_FACTS,
      autoGateways: Object.fromEntries(names.map((n) => [n, '198.51.100.1'])),
      autoGateways6: Object.fromEntries(names.map((n) => [n, 'fe80::1'])),
    };
    const plan = compile(normalize(config), facts);
    expect(validateBatch(plan.nft), JSON.stringify(validateBatch.errors, null, 1)).toBe(true);
  });

  it('names the interfaces that have no device, and --device fills them in', () => {
    const sections = parseUci("config interface 'wan'\n\toption enabled '1'\n", 'x');
    expect(() => importMwan3(sections)).toThrow(/no device known for interface wan: give --network \/etc\/config\/network or --device wan=DEVICE/);
    expect(importMwan3(sections, { devices: { wan: 'eth1' } }).config.interfaces.wan).toMatchObject({ device: 'eth1', gateway: 'auto' });
  });

  it('maps netifd protocols to their devices (pppoe-NAME) and @aliases', () => {
    const net = parseUci(
      "config interface 'dsl'\n\toption proto 'pppoe'\n\toption device 'eth0.7'\nconfig interface 'dsl6'\n\toption device '@dsl'\n",
      'network',
    );
    const { config } = importMwan3(
      parseUci("config interface 'dsl'\n\toption enabled '1'\nconfig interface 'dsl6'\n\toption enabled '1'\n\toption family 'ipv6'\n", 'm'),
      { network: net },
    );
    expect(config.interfaces.dsl).toMatchObject({ device: 'pppoe-dsl', family: 'both', gateway6: 'auto' });
    expect(config.interfaces.dsl6).toBeUndefined();
  });
});

describe('import-uci notes', () => {
  it('notes unknown options and section types instead of dropping them silently', () => {
    const { notes } = importMwan3(
      parseUci(
        "config interface 'wan'\n\toption enabled '1'\n\toption bogus 'x'\n" +
          "config thing 't'\nconfig rule 'r'\n\toption use_policy 'default'\n\tlist weird 'y'\n",
        'm',
      ),
      { devices: { wan: 'eth1' } },
    );
    expect(notes).toContain('interface wan.bogus: not an mwan3 2.12 option: ignored');
    expect(notes).toContain('thing t: section type "thing" is not mwan3\'s: ignored');
    expect(notes).toContain('rule r.weird: not an mwan3 2.12 option: ignored');
  });
});

/** One mwan3 config made of `body`, with wan/wanb on eth1/eth2 and a policy `p` over both. */
const withRules = (body: string) =>
  importMwan3(
    parseUci(
      "config interface 'wan'\n\toption enabled '1'\nconfig interface 'wanb'\n\toption enabled '1'\n" +
        "config member 'm1'\n\toption interface 'wan'\nconfig member 'm2'\n\toption interface 'wanb'\n" +
        "config policy 'p'\n\tlist use_member 'm1'\n\tlist use_member 'm2'\n" +
        body,
      'm',
    ),
    { devices: { wan: 'eth1', wanb: 'eth2', lan: 'br-lan' } },
  );

describe('import-uci rules: never wider than in mwan3', () => {
  it.each([
    ['a rule without use_policy', "config rule 'r'\n\toption dest_ip '192.0.2.9'\n", 'rule r: no use_policy: skipped, as mwan3 skips it'],
    ['a rule with an empty use_policy', "config rule 'r'\n\toption use_policy ''\n", 'rule r: no use_policy: skipped, as mwan3 skips it'],
    [
      'a rule whose src_iface has no known device',
      "config rule 'r'\n\toption src_iface 'guest'\n\toption use_policy 'p'\n",
      'rule r: src_iface: no device known for "guest" (give --network or --device guest=DEVICE): skipped, as mwan3 skips it',
    ],
    [
      'a rule with a protocol neither iptables nor /etc/protocols knows',
      "config rule 'r'\n\toption proto 'quic'\n\toption use_policy 'p'\n",
      'rule r: proto "quic" is neither a protocol number nor a name in /etc/protocols: skipped, as mwan3 skips it',
    ],
    [
      'a rule with a protocol number over 255',
      "config rule 'r'\n\toption proto '300'\n\toption use_policy 'p'\n",
      'rule r: proto 300 is not an IP protocol number (0-255): skipped, as mwan3 skips it',
    ],
  ])('%s is skipped with a note, not turned into a catch-all', (_what, body, expected) => {
    const { config, notes } = withRules(`${body}config rule 'after'\n\toption use_policy 'p'\n`);
    expect(config.rules?.map((r) => r.name)).toEqual(['after']);
    expect(notes).toContain(expected);
  });

  it.each([
    ['gre', 47],
    ['esp', 50],
    ['ah', 51],
    ['sctp', 132],
    ['igmp', 2],
    ['ospf', 89],
    ['udplite', 136],
    ['GRE', 47],
    ['47', 47],
    ['6', 6],
    ['tcp', 'tcp'],
    ['UDP', 'udp'],
    ['icmp', 'icmp'],
    ['ipv6-icmp', 'icmpv6'],
    ['icmpv6', 'icmpv6'],
  ])('proto %s becomes %s', (proto, expected) => {
    const { config, notes } = withRules(`config rule 'r'\n\toption proto '${proto}'\n\toption use_policy 'p'\n`);
    expect(config.rules?.[0]).toMatchObject({ name: 'r', proto: expected });
    // The one note such a rule may carry is mwan3's IPv6 last resort (no WAN here carries IPv6).
    expect(notes.filter((n) => n.startsWith('rule r') && !n.includes('IPv6 as in mwan3'))).toEqual([]);
    expect(validateConfig(config).ok).toBe(true);
  });

  it.each([['all'], ['0'], ['ip']])('proto %s matches every protocol, as iptables reads it', (proto) => {
    const { config } = withRules(`config rule 'r'\n\toption proto '${proto}'\n\toption use_policy 'p'\n`);
    expect(config.rules?.[0]).toEqual({ name: 'r', policy: 'p' });
  });

  it('keeps src_iface as the device when it is known', () => {
    const { config } = withRules("config rule 'r'\n\toption src_iface 'lan'\n\toption use_policy 'p'\n");
    expect(config.rules?.[0]).toEqual({ name: 'r', policy: 'p', srcIface: ['br-lan'] });
  });

  it.each([
    ['blackhole', 'blackhole'],
    ['default', 'default'],
    ['unreachable', 'unreachable'],
    [null, 'unreachable'],
  ])('a rule using a policy with no member gets its last resort (%s -> %s), as mwan3 does', (lastResort, expected) => {
    const { config, notes } = withRules(
      `config policy 'empty'\n${lastResort ? `\toption last_resort '${lastResort}'\n` : ''}config rule 'r'\n\toption use_policy 'empty'\n`,
    );
    expect(config.policies.empty).toBeUndefined();
    expect(config.rules?.[0]).toEqual({ name: 'r', policy: expected });
    expect(notes).toContain(`rule r.use_policy: policy empty has no member: its last resort "${expected}" used`);
  });
});

/** wan (eth1) and wan6 (on @wan), each with its own extra lines. */
const pair = (wan: string, wan6: string) =>
  importMwan3(parseUci(`config interface 'wan'\n\toption family 'ipv4'\n${wan}config interface 'wan6'\n\toption family 'ipv6'\n${wan6}`, 'm'), {
    network: parseUci("config interface 'wan'\n\toption device 'eth1'\nconfig interface 'wan6'\n\toption device '@wan'\n", 'network'),
  });
const ON = "\toption enabled '1'\n";

describe('import-uci wan/wan6 merge: every option of the IPv6 half is merged or noted', () => {
  it.each(
    [
      {
        what: "wan6's initial_state, when it differs from wan's, is dropped with a note",
        wan: ON,
        wan6: `${ON}\toption initial_state 'offline'\n`,
        iface: { family: 'both' },
        note: 'interface wan6.initial_state: "offline" dropped: wan\'s initial_state ("online") is the dual-stack interface\'s',
      },
      {
        what: "wan6's flush_conntrack events join wan's",
        wan: `${ON}\tlist flush_conntrack 'ifup'\n`,
        wan6: `${ON}\tlist flush_conntrack 'ifdown'\n`,
        iface: { family: 'both', flushConntrack: ['online', 'offline'] },
        note: 'interface wan6.flush_conntrack: ifdown merged into wan: the dual-stack interface deletes its own connections of both families on that event',
      },
      {
        what: "wan6's unknown flush_conntrack values are noted",
        wan: ON,
        wan6: `${ON}\tlist flush_conntrack 'always'\n`,
        iface: { family: 'both' },
        note: 'interface wan6.flush_conntrack: always: not ifup, ifdown, connected or disconnected: ignored',
      },
      {
        what: "wan6's tracking settings are noted as decided by wan's",
        wan: `${ON}\tlist track_ip '192.0.2.10'\n`,
        wan6: `${ON}\toption interval '3'\n\toption down '2'\n`,
        iface: { family: 'both', track: { targets: ['192.0.2.10'] } },
        note: "interface wan6.interval, down: not mapped: wan's tracking settings decide for both families",
      },
      {
        what: "wan6's IPv6 targets and timing become wan's track6, each family with its own state",
        wan: `${ON}\tlist track_ip '192.0.2.10'\n`,
        wan6: `${ON}\tlist track_ip '2001:db8::1'\n\tlist track_ip '2001:db8::2'\n\toption reliability '2'\n\toption interval '3'\n\toption down '2'\n`,
        iface: {
          family: 'both',
          track: { targets: ['192.0.2.10'] },
          track6: { targets: ['2001:db8::1', '2001:db8::2'], reliability: 2, interval: 3, failureInterval: 3, down: 2, up: 5, timeout: 4 },
        },
        note: 'interface wan6.track_ip: its IPv6 tracking becomes wan\'s "track6": IPv6 connections follow its own state, IPv4 ones wan\'s',
      },
      {
        what: "wan6's IPv6 targets become track6 when wan has none: IPv4 untracked, IPv6 tracked",
        wan: ON,
        wan6: `${ON}\tlist track_ip '2001:db8::1'\n\toption track_method 'httping'\n`,
        iface: { family: 'both', track6: { method: 'http', targets: ['http://[2001:db8::1]/'] } },
        note: 'interface wan6.track_ip: its IPv6 tracking becomes wan\'s "track6": IPv6 connections follow its own state, IPv4 ones wan\'s',
      },
      {
        what: 'an IPv4 target of wan6 is dropped from its track6',
        wan: ON,
        wan6: `${ON}\tlist track_ip '2001:db8::1'\n\tlist track_ip '192.0.2.9'\n`,
        iface: { family: 'both', track6: { targets: ['2001:db8::1'] } },
        note: "interface wan6.track_ip: 192.0.2.9 dropped: not IPv6, and this section tracks its own family (mwan3track pings with the section's family)",
      },
      {
        what: 'a disabled wan6 next to an enabled wan is left out: wan stays IPv4 only',
        wan: ON,
        wan6: "\toption enabled '0'\n",
        iface: { gateway: 'auto' },
        note:
          'interface wan6: left out: disabled (enabled 0) while wan on the same device eth1 is enabled, ' +
          'so mwan3 balanced only ipv4 there; wan is imported alone ("family": "ipv4")',
      },
    ].map((c) => [c.what, c] as const),
  )('%s', (_what, { wan, wan6, iface, note }) => {
    const { config, notes } = pair(wan, wan6);
    expect(Object.keys(config.interfaces)).toEqual(['wan']);
    expect(config.interfaces.wan).toMatchObject(iface);
    expect(notes).toContain(note);
    expect(validateConfig(config).ok).toBe(true);
  });

  it('a disabled wan6 leaves wan without IPv6', () => {
    expect(pair(ON, '').config.interfaces.wan).not.toHaveProperty('family');
  });

  it('a disabled wan next to an enabled wan6 is left out: wan6 is imported alone, IPv6 only', () => {
    const { config, notes } = pair('', ON);
    expect(config.interfaces).toEqual({ wan6: { device: 'eth1', family: 'ipv6', gateway6: 'auto', nat6: 'none' } });
    expect(notes).toContain(
      'interface wan: left out: disabled (enabled unset) while wan6 on the same device eth1 is enabled, ' +
        'so mwan3 balanced only ipv6 there; wan6 is imported alone ("family": "ipv6")',
    );
  });
});

/** One enabled interface on eth1 with `body`. */
const tracked = (body: string) => importMwan3(parseUci(`config interface 'wan'\n${ON}${body}`, 'm'), { devices: { wan: 'eth1' } });

describe('import-uci tracking targets: every dropped one is noted with the reason', () => {
  it.each(
    [
      {
        what: 'IPv6 targets of an IPv4 interface are dropped; its IPv4 targets kept',
        body: "\tlist track_ip '192.0.2.10'\n\tlist track_ip '2001:db8::1'\n\tlist track_ip '2001:db8::2'\n",
        targets: ['192.0.2.10'],
        expected: [
          "interface wan.track_ip: 2001:db8::1, 2001:db8::2 dropped: not IPv4, and this section tracks its own family (mwan3track pings with the section's family)",
        ],
      },
      {
        what: 'an IPv6-only interface tracks its IPv6 targets, dropping IPv4 ones',
        body: "\toption family 'ipv6'\n\tlist track_ip '2001:db8::1'\n\tlist track_ip '192.0.2.1'\n",
        targets: ['2001:db8::1'],
        expected: ["interface wan.track_ip: 192.0.2.1 dropped: not IPv6, and this section tracks its own family (mwan3track pings with the section's family)"],
      },
      {
        what: 'a host name is kept as a target, looked up at every round (noted: mwan3 looks it up through the WAN)',
        body: "\tlist track_ip 'dns.example'\n\tlist track_ip '192.0.2.10'\n",
        targets: ['dns.example', '192.0.2.10'],
        expected: [
          "interface wan.track_ip: dns.example: looked up at every round through the router's resolver (IPv4 address), the probe then sent " +
            "through this WAN; mwan3's probe tool sends its own lookup through the WAN under test. A name that does not resolve is a missed probe",
        ],
      },
      {
        what: 'a host name under httping becomes an https URL with httping_ssl',
        body: "\tlist track_ip 'www.example.net'\n\toption track_method 'httping'\n\toption httping_ssl '1'\n",
        targets: ['https://www.example.net/'],
        expected: [],
      },
      {
        what: 'junk that is neither an address nor a name is dropped, with the reason',
        body: "\tlist track_ip 'bad_name!'\n\tlist track_ip '192.0.2.10'\n",
        targets: ['192.0.2.10'],
        expected: ['interface wan.track_ip: bad_name! dropped: neither an address nor a host name'],
      },
      {
        what: 'a reliability above the targets kept is lowered, with a note',
        body: "\tlist track_ip '192.0.2.10'\n\tlist track_ip '2001:db8::1'\n\toption reliability '2'\n",
        targets: ['192.0.2.10'],
        expected: ['interface wan.reliability: 2 is more than the 1 IPv4 target kept: 1 used'],
      },
      {
        what: 'a value that is not a whole number is noted, not silently lost',
        body: "\tlist track_ip '192.0.2.10'\n\toption interval 'often'\n",
        targets: ['192.0.2.10'],
        expected: ['interface wan.interval: "often" is not a whole number: mwan3\'s default used'],
      },
    ].map((c) => [c.what, c] as const),
  )('%s', (_what, { body, targets, expected }) => {
    const { config, notes } = tracked(body);
    expect(config.interfaces.wan?.track?.targets ?? null).toEqual(targets);
    for (const n of expected) expect(notes).toContain(n);
    expect(validateConfig(config).ok).toBe(true);
  });

  it('notes unknown flush_conntrack values of an interface', () => {
    const { config, notes } = tracked("\tlist flush_conntrack 'ifdown'\n\tlist flush_conntrack 'sometimes'\n");
    expect(config.interfaces.wan?.flushConntrack).toEqual(['offline']);
    expect(notes).toContain('interface wan.flush_conntrack: sometimes: not ifup, ifdown, connected or disconnected: ignored');
  });
});

const WAN = "config interface 'wan'\n\toption enabled '1'\n";

describe('import-uci globals', () => {
  it.each([
    ['16128', '0x3f00'],
    ['0x3F00', '0x3F00'],
    ['0xff0000', '0xff0000'],
  ])('mmx_mask %s becomes markMask %s', (mask, expected) => {
    const { config } = importMwan3(parseUci(`${WAN}config globals 'globals'\n\toption mmx_mask '${mask}'\n`, 'm'), { devices: { wan: 'eth1' } });
    expect(config.globals?.markMask).toBe(expected);
  });

  it('an mmx_mask that is neither hex nor decimal is noted and left to the default', () => {
    const { config, notes } = importMwan3(parseUci(`${WAN}config globals 'globals'\n\toption mmx_mask 'lots'\n`, 'm'), { devices: { wan: 'eth1' } });
    expect(config.globals).toBeUndefined();
    expect(notes).toContain('globals.mmx_mask: "lots" is neither hex (0x3F00) nor decimal: ignored, nft-mwan\'s default 0x3f00 used');
  });
});
