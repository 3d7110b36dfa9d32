// Validates a parsed config: JSON Schema (ajv) first, then the checks a schema cannot express.
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { ConfigIssue } from '../model/errors.js';
import type { NftMwanConfig } from '../generated/config.js';
import { parseIpElement, parseIpv4, parseIpv6, parsePort, reservedKind4, reservedKind6 } from '../model/net.js';
import { maskedIssue, parseMaskedIpv4 } from '../model/masked.js';
import { markLayout, parseMask } from '../model/marks.js';
import { checkListen } from '../model/listen.js';
import { DEFAULTS } from '../model/defaults.js';
import { validate as standaloneValidate } from '../generated/config-validator.js';
import { normalize } from './normalize.js';
import type { ResolvedConfig } from './resolved.js';
import { trackIssues } from './validate-track.js';

// ajv's validator for the schema, generated as standalone code at build time (scripts/gen-types.mjs).
function schemaValidator(): ValidateFunction {
  return standaloneValidate as unknown as ValidateFunction;
}

export type ValidationResult = { ok: true; config: ResolvedConfig } | { ok: false; issues: ConfigIssue[] };

export const RESERVED_POLICIES = ['default', 'unreachable', 'blackhole'] as const;
/** Routing tables nft-mwan must never use. */
const RESERVED_TABLES = new Map([
  [220, 'IPsec (strongSwan)'],
  [253, 'default'],
  [254, 'main'],
  [255, 'local'],
]);

export function validateConfig(data: unknown): ValidationResult {
  const validate = schemaValidator();
  if (!validate(data)) {
    // Every problem at once: the semantic checks still run over the entries the schema found sound.
    const schema = schemaIssues(validate.errors ?? []);
    const sound = soundPart(data, schema);
    return { ok: false, issues: [...schema, ...(sound === null ? [] : semanticIssues(sound.config).filter((i) => !sound.replaced(i.path)))] };
  }
  const config = data as NftMwanConfig;
  const issues = semanticIssues(config);
  return issues.length > 0 ? { ok: false, issues } : { ok: true, config: normalize(config) };
}

/**
 * The config with every entry the schema refused (an interface, policy, rule or set with an issue anywhere inside
 * it, or a bad globals option) replaced by a neutral stand-in of the same name, so the cross-field checks can run on
 * the rest without reporting what the schema already did, or an entry's absence as a dangling reference. Null when
 * the document's shape itself is wrong (then the schema's issues are all there is to say).
 */
function soundPart(data: unknown, issues: readonly ConfigIssue[]): { config: NftMwanConfig; replaced: (path: string) => boolean } | null {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(data) || !isObject(data.interfaces) || !isObject(data.policies)) return null;
  const bad = (prefix: string) => issues.some((i) => i.path === prefix || i.path.startsWith(`${prefix}/`));
  const exact = (path: string) => issues.some((i) => i.path === path);
  const replacedPaths: string[] = [];
  const section = <T>(name: string, entries: Record<string, unknown>, standIn: (key: string, n: number) => T): Record<string, T> =>
    Object.fromEntries(
      Object.entries(entries).map(([key, value], n) => {
        const at = pointer(name, key);
        if (!bad(at)) return [key, value as T];
        replacedPaths.push(at);
        return [key, standIn(key, n)];
      }),
    );
  const interfaces = section('interfaces', data.interfaces, (_key, n) => ({ device: `!stand-in-${n}` }));
  if (exact('/interfaces') || exact('/policies')) return null;
  // With no interface at all the stand-in names a missing one: its issue lies under the replaced path, so it is not reported.
  const anyInterface = Object.keys(interfaces)[0] ?? 'none';
  const policies = section('policies', data.policies, () => ({ members: [{ interface: anyInterface }] }));
  const rules =
    Array.isArray(data.rules) && !exact('/rules')
      ? data.rules.map((r: unknown, i) =>
          bad(pointer('rules', i)) ? (replacedPaths.push(pointer('rules', i)), { name: `_.stand-in.${i}`, policy: 'default' }) : r,
        )
      : [];
  const sets = isObject(data.sets) && !exact('/sets') ? section('sets', data.sets, () => ({ type: 'ipv4_addr' })) : {};
  const globals = isObject(data.globals) ? Object.fromEntries(Object.entries(data.globals).filter(([k]) => !bad(pointer('globals', k)))) : {};
  const config = { globals, interfaces, policies, rules, sets } as unknown as NftMwanConfig;
  // Only what the schema accepts goes on (a stand-in that does not fit would make the checks misread it).
  if (!schemaValidator()(config)) return null;
  return { config, replaced: (path) => replacedPaths.some((p) => path === p || path.startsWith(`${p}/`)) || bad(path) };
}

function pointer(...parts: (string | number)[]): string {
  return parts.map((p) => `/${String(p).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

/** Turns ajv errors into one readable issue per problem, saying what would be valid. */
function schemaIssues(errors: readonly ErrorObject[]): ConfigIssue[] {
  // A failed oneOf reports each branch too; keep only the oneOf, described by its schema.
  const oneOfPaths = new Set(errors.filter((e) => e.keyword === 'oneOf').map((e) => e.instancePath));
  const seen = new Set<string>();
  const issues: ConfigIssue[] = [];
  for (const e of errors) {
    if (e.keyword !== 'oneOf' && oneOfPaths.has(e.instancePath) && e.schemaPath.includes('/oneOf/')) continue;
    const issue = describe(e);
    const key = `${issue.path}\0${issue.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      issues.push(issue);
    }
  }
  return issues;
}

function describe(e: ErrorObject): ConfigIssue {
  const parent = e.parentSchema as { description?: string; enum?: unknown[] } | undefined;
  const hint = parent?.description ? ` (${parent.description})` : '';
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const allowed = Object.keys((parent as { properties?: object } | undefined)?.properties ?? {});
      return {
        path: e.instancePath,
        message: `unknown property "${String(params.additionalProperty)}"${allowed.length ? ` (allowed: ${allowed.join(', ')})` : ''}`,
      };
    }
    case 'required':
      return { path: e.instancePath, message: `missing required property "${String(params.missingProperty)}"` };
    case 'enum':
      return {
        path: e.instancePath,
        message: `${JSON.stringify(e.data)} is not allowed; use one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'propertyNames':
      return { path: pointer(...splitPointer(e.instancePath), String(params.propertyName)), message: 'invalid name' };
    case 'pattern':
    case 'not':
      if (e.propertyName !== undefined) {
        return {
          path: pointer(...splitPointer(e.instancePath), e.propertyName),
          message: `invalid name "${e.propertyName}"${hint}`,
        };
      }
      return { path: e.instancePath, message: `${JSON.stringify(e.data)} is not valid${hint}` };
    case 'oneOf':
      return { path: e.instancePath, message: `${JSON.stringify(e.data)} is not valid${hint}` };
    case 'type':
      return { path: e.instancePath, message: `must be ${String(params.type)}, not ${JSON.stringify(e.data)}` };
    default:
      return { path: e.instancePath, message: `${e.message ?? 'invalid'}${hint}` };
  }
}

function splitPointer(p: string): string[] {
  return p === ''
    ? []
    : p
        .slice(1)
        .split('/')
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

const ADDRESS_FIELDS = ['srcIp', 'destIp'] as const;

/** What is wrong with one address of a rule (one of `count` in its field), or undefined. */
function addressIssue(text: string, count: number, ruleFamily: string, carries6: boolean): string | undefined {
  const masked = parseMaskedIpv4(text);
  if (masked) return maskedIssue(masked, count, ruleFamily);
  const parsed = parseIpElement(text);
  if ('error' in parsed) return parsed.error;
  const family = parsed.interval.family;
  if (ruleFamily !== 'any' && family !== ruleFamily) {
    return `${text} is ${family === 'ipv6' ? 'an IPv6' : 'an IPv4'} address but the rule is "family": "${ruleFamily}"`;
  }
  if (family === 'ipv6' && !carries6) {
    return `${text} is IPv6 but no interface carries IPv6 (set "family": "both" or "ipv6" on one, or globals.ipv6WithoutWan "lastResort")`;
  }
  return undefined;
}

function list(names: Iterable<string>): string {
  return [...names].map((n) => `"${n}"`).join(', ');
}

/**
 * Checks across fields: references, uniqueness, value syntax the schema leaves to code. They read the config as the
 * user wrote it (an option given against its family is an error even where it equals the default), so the defaults
 * they need come from model/defaults, the same ones normalize applies.
 */
function semanticIssues(config: NftMwanConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const add = (path: string, message: string) => issues.push({ path, message });
  const g = config.globals ?? {};
  const ifaceNames = Object.keys(config.interfaces);
  const policyNames = Object.keys(config.policies);

  const mask = parseMask(g.markMask ?? DEFAULTS.markMask);
  const layout = markLayout(mask);
  if (mask === 0xffffffff)
    add(
      '/globals/markMask',
      'must leave at least one bit out (0xffffffff): nft lists "& 0xffffffff" as no mask at all, so the installed table could never be verified',
    );
  if (layout.maxId < ifaceNames.length) {
    add(
      '/globals/markMask',
      `mask 0x${mask.toString(16)} has room for ${layout.maxId} interface id(s) but ${ifaceNames.length} interfaces are configured ` +
        `(each set bit doubles the room; 3 values are reserved)`,
    );
  }

  const tableBase = g.routeTableBase ?? DEFAULTS.routeTableBase;
  // An IPv6 address in a rule means something with an IPv6 WAN, or when IPv6 gets the policies' last resorts without one.
  // The same test as classifiesIpv6 (families.ts), here on the raw config, its defaults not yet filled in.
  const carries6 =
    (g.ipv6WithoutWan ?? DEFAULTS.ipv6WithoutWan) === 'lastResort' || Object.values(config.interfaces).some((i) => (i.family ?? DEFAULTS.family) !== 'ipv4');
  const idOwner = new Map<number, string>();
  const deviceOwner = new Map<string, string>();
  for (const [name, iface] of Object.entries(config.interfaces)) {
    const at = (...p: string[]) => pointer('interfaces', name, ...p);
    if (iface.id !== undefined) {
      const other = idOwner.get(iface.id);
      if (other !== undefined) add(at('id'), `id ${iface.id} is already used by interface "${other}"`);
      else idOwner.set(iface.id, name);
      if (iface.id > layout.maxId) {
        add(at('id'), `id ${iface.id} does not fit the mark mask 0x${mask.toString(16)} (ids 1-${layout.maxId})`);
      }
    }
    const otherDev = deviceOwner.get(iface.device);
    if (otherDev !== undefined) add(at('device'), `device "${iface.device}" is already used by interface "${otherDev}"`);
    else deviceOwner.set(iface.device, name);
    const fam = iface.family ?? DEFAULTS.family;
    if (iface.gateway6 !== undefined && iface.gateway6 !== 'auto') {
      const kind = reservedKind6(iface.gateway6);
      if (parseIpv6(iface.gateway6) === undefined) add(at('gateway6'), `"${iface.gateway6}" is not an IPv6 address or "auto"`);
      else if (kind !== null) add(at('gateway6'), `"${iface.gateway6}" is ${kind}: a next hop is one router's unicast address (the ISP's, often fe80::1)`);
    }
    if (fam === 'ipv4' && (iface.gateway6 !== undefined || iface.npt6Prefix !== undefined || iface.nat6 !== undefined || iface.snat6Address !== undefined)) {
      add(
        at(iface.gateway6 !== undefined ? 'gateway6' : iface.nat6 !== undefined ? 'nat6' : 'npt6Prefix'),
        'IPv6 settings on an interface with "family": "ipv4" (set "family": "both" or "ipv6")',
      );
    }
    if (fam === 'ipv6' && (iface.gateway !== undefined || iface.nat !== undefined)) {
      add(at(iface.gateway !== undefined ? 'gateway' : 'nat'), 'IPv4 settings on an interface with "family": "ipv6" (set "family": "both")');
    }
    if (iface.nat6 === 'npt') {
      const text = iface.npt6Prefix;
      const prefix = text === undefined ? undefined : parseIpElement(text);
      if (text === undefined || prefix === undefined) add(at('npt6Prefix'), '"nat6": "npt" needs npt6Prefix, the IPv6 prefix this ISP routes to you');
      else if ('error' in prefix || prefix.interval.family !== 'ipv6' || !text.includes('/')) add(at('npt6Prefix'), `"${text}" is not an IPv6 CIDR`);
    } else if (iface.npt6Prefix !== undefined) {
      add(at('npt6Prefix'), 'only used with "nat6": "npt"');
    }
    // SNAT to a fixed address (an HA pair's shared address): the address must be one a router can send from.
    const snat = [
      { mode: iface.nat, key: 'snatAddress', field: 'nat', text: iface.snatAddress, parse: parseIpv4, reserved: reservedKind4, family: 'IPv4' },
      { mode: iface.nat6, key: 'snat6Address', field: 'nat6', text: iface.snat6Address, parse: parseIpv6, reserved: reservedKind6, family: 'IPv6' },
    ] as const;
    for (const n of snat) {
      if (n.mode === 'snat') {
        if (n.text === undefined) add(at(n.key), `"${n.field}": "snat" needs ${n.key}, the ${n.family} address connections leave this WAN with`);
        else if (n.parse(n.text) === undefined) add(at(n.key), `"${n.text}" is not an ${n.family} address`);
        else {
          const kind = n.reserved(n.text);
          if (kind !== null) add(at(n.key), `"${n.text}" is ${kind}: connections leave with a unicast address of this router`);
        }
      } else if (n.text !== undefined) {
        add(at(n.key), `only used with "${n.field}": "snat"`);
      }
    }
    if (iface.gateway !== undefined && iface.gateway !== 'auto') {
      const kind = reservedKind4(iface.gateway);
      if (parseIpv4(iface.gateway) === undefined) add(at('gateway'), `"${iface.gateway}" is not an IPv4 address or "auto"`);
      else if (kind !== null) add(at('gateway'), `"${iface.gateway}" is ${kind}: a next hop is one router's unicast address (the ISP's)`);
    }
    trackIssues(iface, at, add);
  }
  // Every id that could be allocated must stay clear of reserved tables.
  for (let id = 1; id <= Math.min(layout.maxId, Math.max(ifaceNames.length, ...idOwner.keys())); id++) {
    const reserved = RESERVED_TABLES.get(tableBase + id);
    if (reserved) {
      add('/globals/routeTableBase', `table ${tableBase + id} (interface id ${id}) would collide with the ${reserved} table`);
    }
  }

  for (const [name, policy] of Object.entries(config.policies)) {
    const used = new Set<string>();
    policy.members.forEach((m, i) => {
      const at = pointer('policies', name, 'members', i, 'interface');
      if (!(m.interface in config.interfaces)) {
        add(at, `unknown interface "${m.interface}" (interfaces: ${list(ifaceNames)})`);
      } else if (used.has(m.interface)) {
        add(at, `interface "${m.interface}" is already a member of this policy`);
      }
      used.add(m.interface);
    });
  }

  const ruleNames = new Set<string>();
  (config.rules ?? []).forEach((rule, i) => {
    const at = (...p: (string | number)[]) => pointer('rules', i, ...p);
    if (ruleNames.has(rule.name)) add(at('name'), `rule name "${rule.name}" is used twice`);
    ruleNames.add(rule.name);
    if (!(rule.policy in config.policies) && !(RESERVED_POLICIES as readonly string[]).includes(rule.policy)) {
      add(at('policy'), `unknown policy "${rule.policy}" (policies: ${list([...policyNames, ...RESERVED_POLICIES])})`);
    }
    const ruleFamily = rule.family ?? DEFAULTS.ruleFamily;
    for (const field of ADDRESS_FIELDS) {
      const texts = rule[field];
      if (texts === undefined) continue;
      for (let j = 0; j < texts.length; j++) {
        const issue = addressIssue(texts[j] as string, texts.length, ruleFamily, carries6);
        if (issue !== undefined) add(at(field, j), issue);
      }
    }
    if ((rule.proto === 'icmp' && ruleFamily === 'ipv6') || (rule.proto === 'icmpv6' && ruleFamily === 'ipv4')) {
      add(at('proto'), `${rule.proto} does not exist in ${ruleFamily}`);
    }
    if (rule.sticky && (RESERVED_POLICIES as readonly string[]).includes(rule.policy)) {
      add(at('sticky'), `a sticky rule needs a policy with members; "${rule.policy}" has none to stick to`);
    }
    if ((rule.stickyTimeout !== undefined || rule.stickyBy !== undefined) && !rule.sticky) {
      add(at(rule.stickyTimeout !== undefined ? 'stickyTimeout' : 'stickyBy'), 'only takes effect with "sticky": true');
    }
    if (rule.set !== undefined && !(rule.set in (config.sets ?? {}))) {
      add(at('set'), `unknown set "${rule.set}" (sets: ${list(Object.keys(config.sets ?? {})) || 'none declared in "sets"'})`);
    } else if (rule.set !== undefined) {
      // nft refuses `ip daddr @set` on an ipv6_addr set (and the reverse) at apply time: say so here instead.
      const setType = config.sets?.[rule.set]?.type ?? 'ipv4_addr';
      const setFamily = setType === 'ipv6_addr' ? 'ipv6' : 'ipv4';
      const other = setFamily === 'ipv6' ? 'ipv4' : 'ipv6';
      const onlyOther = (texts: string[] | undefined) =>
        texts !== undefined &&
        texts.every((t) => {
          const p = parseIpElement(t);
          return 'error' in p || p.interval.family === other;
        });
      const why =
        ruleFamily === other
          ? `"family": "${other}"`
          : (other === 'ipv4' && rule.proto === 'icmp') || (other === 'ipv6' && rule.proto === 'icmpv6')
            ? `"proto": "${rule.proto}"`
            : onlyOther(rule.srcIp)
              ? `its srcIp addresses are all ${other === 'ipv4' ? 'IPv4' : 'IPv6'}`
              : onlyOther(rule.destIp)
                ? `its destIp addresses are all ${other === 'ipv4' ? 'IPv4' : 'IPv6'}`
                : null;
      if (why !== null) add(at('set'), `set "${rule.set}" holds ${setType}, but the rule is ${other}-only (${why})`);
    }
    for (const field of ['srcPort', 'destPort'] as const) {
      const ports = rule[field];
      if (!ports) continue;
      if (rule.proto !== 'tcp' && rule.proto !== 'udp') {
        add(at(field), `ports need "proto": "tcp" or "udp" (proto is ${JSON.stringify(rule.proto ?? DEFAULTS.proto)})`);
      }
      ports.forEach((p, j) => {
        const parsed = parsePort(p);
        if ('error' in parsed) add(at(field, j), parsed.error);
      });
    }
  });

  for (const [name, set] of Object.entries(config.sets ?? {})) {
    const want = set.type === 'ipv6_addr' ? 'ipv6' : 'ipv4';
    (set.elements ?? []).forEach((text, i) => {
      const parsed = parseIpElement(text);
      if ('error' in parsed) add(pointer('sets', name, 'elements', i), parsed.error);
      else if (parsed.interval.family !== want) add(pointer('sets', name, 'elements', i), `${text} does not fit a set of type ${set.type}`);
    });
  }
  (g.bypass ?? []).forEach((text, i) => {
    const parsed = parseIpElement(text);
    if ('error' in parsed) add(pointer('globals', 'bypass', i), parsed.error);
  });
  // Files the daemon opens or runs: from its own working directory a relative path would mean anything.
  for (const [path, value] of [
    ['/globals/hooks', g.hooks],
    ['/globals/mwan3User', g.mwan3User],
    ['/globals/metrics/textfile', g.metrics?.textfile],
  ] as const) {
    if (value !== undefined && !value.startsWith('/')) add(path, `"${value}" is not an absolute path (it must start with /)`);
  }
  // Checked here, not only when the daemon binds: `check` and apply refuse it before anything runs.
  const listen = g.metrics?.listen;
  if (listen !== undefined) {
    const r = checkListen(listen);
    if ('error' in r) add('/globals/metrics/listen', `"${listen}": ${r.error}`);
    else if (r.port === 0) add('/globals/metrics/listen', `"${listen}": port 0 would be a new random port on every start; give a fixed one, e.g. 9523`);
  }
  return issues;
}
