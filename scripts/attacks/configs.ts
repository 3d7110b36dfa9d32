// Generated attack configs: invalid ones (each must be refused with exit 78 and a location) and injection payloads in every name and string.
import { SRV1, W1 } from './arena.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A valid config with something at every path the mutations below reach. */
export function baseConfig(): { [k: string]: Json } {
  return {
    globals: { markMask: '0x3f00' },
    interfaces: {
      wan1: { device: 'wan1', gateway: W1.gateway, track: { targets: [SRV1], interval: 1, timeout: 0.5, quality: { failureLossPct: 50 } } },
      wan2: { device: 'wan2', gateway: 'auto' },
    },
    policies: {
      balanced: { members: [{ interface: 'wan1', weight: 2 }, { interface: 'wan2' }] },
      first: {
        members: [
          { interface: 'wan1', metric: 1 },
          { interface: 'wan2', metric: 2 },
        ],
      },
    },
    sets: { hosts: { type: 'ipv4_addr', elements: ['192.168.10.2'] } },
    rules: [
      { name: 'docs', destIp: ['203.0.113.0/24'], proto: 'tcp', destPort: ['443'], policy: 'first' },
      { name: 'lanhosts', srcIface: ['wan1'], set: 'hosts', policy: 'first' },
      { name: 'default', policy: 'balanced' },
    ],
  };
}

/** Sets (or with `undefined`, deletes) the value at a JSON pointer, creating objects on the way. */
export function withValue(path: string, value: Json | undefined, config = baseConfig()): { [k: string]: Json } {
  const keys = path.split('/').slice(1);
  let node: Json = config;
  for (const key of keys.slice(0, -1)) {
    const container = node as { [k: string]: Json };
    container[key] ??= {};
    node = container[key];
  }
  const last = keys.at(-1) ?? '';
  const container = node as { [k: string]: Json };
  if (value === undefined) Reflect.deleteProperty(container, last);
  else container[last] = value;
  return config;
}

/** Renames an object key in place, keeping its position. */
function renameKey(obj: { [k: string]: Json }, from: string, to: string): { [k: string]: Json } {
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k === from ? to : k, v]));
}

export interface BadConfig {
  name: string;
  /** An object (serialised as JSON) or raw file text. */
  content: Json | string | Buffer;
}

const T = '/interfaces/wan1/track';

/** Path, bad values: each value alone at that path makes the config invalid. */
const WRONG_VALUES: [string, Json[]][] = [
  ['/globals/markMask', [true, '0xzz', '0xffffffff', '0x0', '0x1', -1]],
  ['/globals/table', [5, 'bad-name', '1abc', '', 'x'.repeat(65)]],
  ['/globals/routeTableBase', ['1000', 0, -5, 2147483647, 1.5, 252, 219]],
  ['/globals/rulePriority', [0, 40000, 'x', 1.5]],
  ['/globals/routeProtocol', [4, 256, '77', null, 0]],
  ['/globals/hookTimeout', [0, -1, 601, '10']],
  ['/globals/useGidBase', [0, -1, 'x']],
  ['/globals/bypass', ['x', [5]]],
  ['/globals/hooks', [5, 'relative/hooks']],
  ['/interfaces', [[], 'x', null]],
  ['/interfaces/wan1/device', [5, '', 'lo', 'wan*', 'a/b', 'x'.repeat(16), '.', '..', 'a b', 'a"b']],
  ['/interfaces/wan1/gateway', ['0.0.0.0', '255.255.255.255', '224.0.0.1', W1.addr, '999.1.1.1', 'not-an-ip', 5, '2001:db8::1']],
  ['/interfaces/wan1/id', [0, -1, '1', 1.5]],
  ['/interfaces/wan1/enabled', ['yes', 1]],
  ['/interfaces/wan1/family', ['ipv5']],
  ['/interfaces/wan1/nat', ['nat', true]],
  ['/interfaces/wan1/initialState', ['up']],
  ['/interfaces/wan1/flushConntrack', ['offline', ['bogus']]],
  [`${T}/targets`, ['x', [], ['not an address'], [5]]],
  [`${T}/interval`, [0.0001, 0, -1, '1', 4000]],
  [`${T}/timeout`, [0.001, 61]],
  [`${T}/failureInterval`, [0.01]],
  [`${T}/recoveryInterval`, [0.001]],
  [`${T}/count`, [0, 101]],
  [`${T}/down`, [0, 1001]],
  [`${T}/up`, [0]],
  [`${T}/reliability`, [0, 5]],
  [`${T}/method`, ['icmp']],
  [`${T}/quality/failureLossPct`, [101, -1]],
  [`${T}/quality/window`, [0]],
  ['/policies', ['x', []]],
  ['/policies/balanced/members', [[], 'x']],
  ['/policies/balanced/members/0/interface', ['wan9', 5]],
  ['/policies/balanced/members/0/weight', [0, 1001, 1.5]],
  ['/policies/balanced/members/0/metric', [256, -1]],
  ['/policies/balanced/lastResort', ['drop']],
  ['/policies/balanced/mode', ['hash']],
  ['/rules', [{}, 'x']],
  ['/rules/0/policy', ['nope', 5]],
  ['/rules/0/name', ['bad name', '', 'x'.repeat(65)]],
  ['/rules/0/proto', ['foo', -1, 256]],
  ['/rules/0/destPort', [['70000'], ['8080-80'], 'x']],
  ['/rules/0/destIp', [['300.1.1.1'], ['1.2.3.4/33'], ['x']]],
  ['/rules/1/set', ['nope']],
  ['/rules/0/stickyTimeout', [0]],
  ['/rules/0/stickyBy', ['x']],
  ['/rules/0/log', ['yes']],
  ['/sets/hosts/type', ['mac']],
  ['/sets/hosts/elements', [['x'], ['2001:db8::1']]],
  ['/sets/hosts/timeout', [0]],
];

const UNKNOWN_KEY_AT = ['', '/globals', '/interfaces/wan1', T, `${T}/quality`, '/policies/balanced', '/policies/balanced/members/0', '/rules/0', '/sets/hosts'];

function nested(depth: number): string {
  return `{"globals": ${'['.repeat(depth)}${']'.repeat(depth)}}`;
}

export function badConfigs(): BadConfig[] {
  const out: BadConfig[] = [];
  for (const [path, values] of WRONG_VALUES) {
    for (const v of values) out.push({ name: `${path} = ${short(JSON.stringify(v))}`, content: withValue(path, v) });
  }
  for (const at of UNKNOWN_KEY_AT) out.push({ name: `unknown key at ${at || '/'}`, content: withValue(`${at}/bogusKey`, 1) });
  for (const key of ['interfaces', 'policies']) out.push({ name: `missing /${key}`, content: withValue(`/${key}`, undefined) });
  out.push({ name: 'missing /interfaces/wan1/device', content: withValue('/interfaces/wan1/device', undefined) });
  out.push({ name: 'missing /rules/0/policy', content: withValue('/rules/0/policy', undefined) });
  // Dangling references and reserved or clashing names.
  out.push({ name: 'duplicate interface id', content: withValue('/interfaces/wan2/id', 1, withValue('/interfaces/wan1/id', 1)) });
  out.push({ name: 'duplicate rule name', content: withValue('/rules/1/name', 'docs') });
  for (const reserved of ['default', 'unreachable', 'blackhole']) {
    const c = baseConfig();
    c.policies = renameKey(c.policies as { [k: string]: Json }, 'first', reserved);
    out.push({ name: `reserved policy name ${reserved}`, content: withValue('/rules/0/policy', reserved, c) });
  }
  for (const badName of ['wan-1', 'x'.repeat(16), '_x']) {
    const c = baseConfig();
    c.interfaces = renameKey(c.interfaces as { [k: string]: Json }, 'wan2', badName);
    out.push({ name: `interface name ${short(badName)}`, content: withValue('/policies/balanced/members/1/interface', badName, c) });
  }
  {
    const c = baseConfig();
    c.sets = renameKey(c.sets as { [k: string]: Json }, 'hosts', '1hosts');
    out.push({ name: 'set name 1hosts', content: withValue('/rules/1/set', '1hosts', c) });
  }
  // Syntax: each must name FILE:LINE:COLUMN.
  const text = JSON.stringify(baseConfig(), null, 2);
  const syntax: [string, string | Buffer][] = [
    ['empty file', ''],
    ['only whitespace', '   \n\n'],
    ['null', 'null'],
    ['an array', '[]'],
    ['a number', '42'],
    ['a string', '"x"'],
    ['an unclosed object', '{'],
    ['a missing value', '{"interfaces": }'],
    ['a missing colon', '{"interfaces" {}}'],
    ['an unterminated string', '{"interfaces": {"wan1'],
    ['trailing garbage', `${text}}`],
    ['two documents', `${text}\n${text}`],
    ['an unterminated comment', `/* ${text}`],
    ['a NUL byte', text.replace('"wan2"', '"wa\u0000n2"')],
    ['invalid UTF-8', Buffer.concat([Buffer.from(text.slice(0, 40)), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(text.slice(40))])],
    ['a single-quoted string', text.replace('"wan2":', "'wan2':")],
    ['a bare word', text.replace('"auto"', 'auto')],
    ['duplicate top-level key', text.replace('{\n', `{\n  "interfaces": {},\n`)],
    ['duplicate interface key', text.replace('"wan2": {', '"wan1": {')],
    ['duplicate nested key', text.replace('"device": "wan1",', '"device": "wan1", "device": "wan2",')],
    ['100k nested arrays', nested(100_000)],
    ['1M nested arrays', nested(1_000_000)],
  ];
  for (const [name, content] of syntax) out.push({ name: `syntax: ${name}`, content });
  // Huge: many members all dangling, a long key list, a 16 MB string.
  out.push({
    name: 'huge: 200k dangling members',
    content: withValue(
      '/policies/balanced/members',
      Array.from({ length: 200_000 }, () => ({ interface: 'wan9' })),
    ),
  });
  out.push({
    name: 'huge: 50k unknown globals keys',
    content: withValue('/globals', Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, i]))),
  });
  out.push({ name: 'huge: 16 MB device name', content: withValue('/interfaces/wan1/device', 'x'.repeat(16 * 1024 * 1024)) });
  return out;
}

export interface Injection {
  name: string;
  /** Builds the config with the payload (which may create `canary` if ever run) in place. */
  build: (payload: string) => { [k: string]: Json };
}

/** Payloads: shell metacharacters, newlines, quotes, comments, unicode, wildcards, very long values. */
export function payloads(canary: string): [string, string][] {
  return [
    ['semicolon', `x;touch ${canary}`],
    ['$IFS for spaces', `;touch\${IFS}${canary}`],
    ['command substitution', `$(touch ${canary})`],
    ['backticks', `\`touch ${canary}\``],
    ['pipe', `x|touch ${canary}`],
    ['and-and', `x&&touch ${canary}`],
    ['newline', `x\ntouch ${canary}`],
    ['single quotes', `x'; touch ${canary}; '`],
    ['double quotes', `x"; touch ${canary}; "`],
    ['nft comment', 'x # drop'],
    ['nft braces', 'x } ; flush ruleset ; {'],
    ['unicode', 'wän🙂'],
    ['right-to-left override', 'x\u202ey'],
    ['wildcard', 'wan*'],
    ['dash option', '--help'],
    ['very long', 'x'.repeat(5000)],
  ];
}

/** Every name and string the config carries, each a place for a payload. */
export function injectionSites(): Injection[] {
  return [
    { name: 'device', build: (p) => withValue('/interfaces/wan2/device', p) },
    {
      name: 'interface name',
      build: (p) => {
        const c = baseConfig();
        c.interfaces = renameKey(c.interfaces as { [k: string]: Json }, 'wan2', p);
        return withValue('/policies/balanced/members/1/interface', p, withValue('/policies/first/members/1/interface', p, c));
      },
    },
    {
      name: 'policy name',
      build: (p) => {
        const c = baseConfig();
        c.policies = renameKey(c.policies as { [k: string]: Json }, 'first', p);
        return withValue('/rules/1/policy', p, withValue('/rules/0/policy', p, c));
      },
    },
    { name: 'rule name', build: (p) => withValue('/rules/0/name', p) },
    {
      name: 'set name',
      build: (p) => {
        const c = baseConfig();
        c.sets = renameKey(c.sets as { [k: string]: Json }, 'hosts', p);
        return withValue('/rules/1/set', p, c);
      },
    },
    { name: 'set element', build: (p) => withValue('/sets/hosts/elements', ['192.168.10.2', p]) },
    { name: 'gateway', build: (p) => withValue('/interfaces/wan2/gateway', p) },
    { name: 'track target', build: (p) => withValue(`${T}/targets`, [p]) },
    { name: 'srcIface', build: (p) => withValue('/rules/1/srcIface', [p]) },
    { name: 'destPort', build: (p) => withValue('/rules/0/destPort', [p]) },
    { name: 'globals.table', build: (p) => withValue('/globals/table', p) },
    { name: 'globals.hooks', build: (p) => withValue('/globals/hooks', `/tmp/${p}`) },
  ];
}

function short(s: string): string {
  return s.length > 40 ? `${s.slice(0, 20)}...(${s.length} chars)` : s;
}
