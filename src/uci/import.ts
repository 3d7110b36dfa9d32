// mwan3's UCI config -> an nft-mwan config, with a note for every option mapped differently or not at all. Pure.
import type { Interface, NftMwanConfig, Policy, Rule } from '../generated/config.js';
import { MwanError } from '../model/errors.js';
import { parseMaskedIpv4 } from '../model/masked.js';
import { parseIpElement } from '../model/net.js';
import { dottedMask, ipv6LastResort, noteEveryConfig, spacedPorts, spacedProto, split } from './rules.js';
import { absentTiming, flushEvents, INTERFACE_OPTIONS, mapInterface, mapTrack, mergeNotes, MWAN3_TIMING, type Note } from './interface.js';
import { mapProtocol } from './protocols.js';
import { sectionId as id, type UciSection } from './parse.js';

export interface ImportOptions {
  /** netifd interface name -> device, from --device flags (they win over the network config). */
  devices?: Readonly<Record<string, string>>;
  /** Parsed /etc/config/network, to find each interface's device. */
  network?: readonly UciSection[];
}

export interface ImportResult {
  config: NftMwanConfig;
  /** One line per option mapped differently or not at all, with the reason. */
  notes: string[];
}

const SPECIAL_POLICIES = new Set(['default', 'unreachable', 'blackhole']);
const RESERVED_MEANING: Partial<Record<string, string>> = {
  default: 'the main routing table',
  unreachable: 'the unreachable mark',
  blackhole: 'the blackhole mark',
};

// Options mwan3 2.12 knows, per section type: anything else is noted, never silently dropped.
const KNOWN: Record<string, string[]> = {
  interface: INTERFACE_OPTIONS,
  member: ['interface', 'metric', 'weight'],
  policy: ['use_member', 'last_resort'],
  rule: ['proto', 'src_ip', 'src_port', 'dest_ip', 'dest_port', 'src_iface', 'ipset', 'sticky', 'timeout', 'use_policy', 'family', 'logging'],
};

export function importMwan3(sections: readonly UciSection[], o: ImportOptions = {}): ImportResult {
  const notes: string[] = [];
  const note: Note = (where, text) => notes.push(`${where}: ${text}`);
  const of = (type: string) => sections.filter((s) => s.type === type);

  for (const sec of sections) {
    const known = KNOWN[sec.type];
    if (known === undefined) {
      if (sec.type !== 'globals') note(`${sec.type} ${id(sec)}`, `section type "${sec.type}" is not mwan3's: ignored`);
      continue;
    }
    for (const k of [...Object.keys(sec.options), ...Object.keys(sec.lists)]) {
      if (!known.includes(k)) note(`${sec.type} ${id(sec)}.${k}`, 'not an mwan3 2.12 option: ignored');
    }
  }

  // --- devices --------------------------------------------------------------------------------------------
  const netIfaces = new Map((o.network ?? []).filter((s) => s.type === 'interface' && s.name).map((s) => [s.name as string, s]));
  const deviceOf = (name: string): string | null => {
    if (o.devices?.[name]) return o.devices[name];
    const n = netIfaces.get(name);
    if (!n) return null;
    const proto = n.options.proto ?? '';
    // netifd names the device of a PPP-family protocol after the interface.
    if (['pppoe', 'pppoa', 'pptp', 'l2tp', '3g', 'ppp'].includes(proto)) return `${proto === 'pppoa' ? 'pppoa' : proto === 'pppoe' ? 'pppoe' : proto}-${name}`;
    if (['qmi', 'ncm', 'wwan', 'modemmanager'].includes(proto)) return `wwan-${name}`;
    const dev = n.options.device ?? n.options.ifname ?? n.lists.ifname?.[0] ?? null;
    // "@wan" is an alias: the device of interface wan.
    if (dev?.startsWith('@')) return deviceOf(dev.slice(1));
    return dev;
  };

  // --- globals --------------------------------------------------------------------------------------------
  const config: NftMwanConfig = { interfaces: {}, policies: {}, rules: [] };
  const globals = of('globals')[0];
  if (globals) {
    const mask = globals.options.mmx_mask;
    if (mask !== undefined) {
      // uci/mwan3 take the mask as hex (0x3F00) or decimal (16128).
      if (/^0x[0-9a-f]+$/i.test(mask)) config.globals = { markMask: mask };
      else if (/^\d+$/.test(mask)) config.globals = { markMask: `0x${Number(mask).toString(16)}` };
      else note('globals.mmx_mask', `"${mask}" is neither hex (0x3F00) nor decimal: ignored, nft-mwan's default 0x3f00 used`);
    }
    const tables = split(globals.options.rt_table_lookup, globals.lists.rt_table_lookup);
    if (tables.length > 0) {
      note(
        'globals.rt_table_lookup',
        `tables ${tables.join(', ')} not mapped: mwan3 copies their routes into every WAN's table, so those destinations keep ` +
          `their route whatever WAN a connection is marked for; nft-mwan reads the main table only: add these tables' networks to globals.bypass`,
      );
    }
    if (globals.options.source_routing === '1') note('globals.source_routing', 'not needed: replies always leave through the WAN a connection came in on');
    if (globals.options.logging !== undefined || globals.options.loglevel !== undefined)
      note('globals.logging', 'not mapped: the daemon logs every event to stderr/journald; use "log" on rules');
    for (const k of Object.keys(globals.options)) {
      if (!['mmx_mask', 'rt_table_lookup', 'source_routing', 'logging', 'loglevel'].includes(k)) note(`globals.${k}`, 'unknown to mwan3 2.12: ignored');
    }
  }

  // --- interfaces, with wan/wan6 pairs merged ------------------------------------------------------------
  const ifaceSections = of('interface');
  if (ifaceSections.length === 0) {
    // mwan3 still hooks and runs its rules: with no WAN to balance, each rule's policy is only its last resort.
    note(
      'interfaces',
      "none: mwan3 balances nothing with this config (its rules still mark what they match for their policy's last resort); " +
        'imported with no interfaces: nft-mwan installs its table and balances nothing (check and apply warn "no interfaces")',
    );
  }
  const familyOf = (s: UciSection) => s.options.family ?? 'ipv4';
  const enabled = (s: UciSection) => s.options.enabled === '1';
  const deviceBy = new Map(ifaceSections.map((s) => [s, deviceOf(id(s))]));
  // A wan6 next to a wan on the same device is one dual-stack uplink to nft-mwan (one device, one interface).
  const partnerOf = new Map<UciSection, UciSection>();
  for (const s of ifaceSections) {
    const device = deviceBy.get(s);
    if (familyOf(s) !== 'ipv6' || device == null) continue;
    const taken = new Set(partnerOf.values());
    const partner = ifaceSections.find((t) => t !== s && familyOf(t) === 'ipv4' && deviceBy.get(t) === device && !taken.has(t));
    if (partner) partnerOf.set(s, partner);
  }
  // When only one half of a pair is enabled, mwan3 balances only that family there: the other half is left out.
  const leftOut = new Map<UciSection, string>();
  for (const [v6, v4] of partnerOf) {
    if (enabled(v6) === enabled(v4)) continue;
    const [off, on] = enabled(v6) ? [v4, v6] : [v6, v4];
    leftOut.set(
      off,
      `left out: disabled (enabled ${off.options.enabled ?? 'unset'}) while ${id(on)} on the same device ${String(deviceBy.get(on))} is enabled, ` +
        `so mwan3 balanced only ${familyOf(on)} there; ${id(on)} is imported alone ("family": "${familyOf(on)}")`,
    );
    partnerOf.delete(v6);
  }
  const renamed = new Map<string, string>();
  const missing: string[] = [];
  for (const s of ifaceSections) {
    const name = id(s);
    const family = familyOf(s);
    const device = deviceBy.get(s) ?? null;
    if (device === null) {
      // A disabled section without a device does nothing in mwan3 either.
      if (!enabled(s)) note(`interface ${name}`, 'disabled and no device known: left out');
      else missing.push(name);
      continue;
    }
    const why = leftOut.get(s);
    if (why !== undefined) {
      note(`interface ${name}`, why);
      continue;
    }
    const partner = partnerOf.get(s);
    if (partner) {
      renamed.set(name, id(partner));
      note(`interface ${name}`, `merged into ${id(partner)} ("family": "both"): same device ${device}`);
      mergeNotes(s, partner, note);
      continue;
    }
    config.interfaces[name] = mapInterface(s, name, device, family, note);
  }
  if (missing.length > 0) {
    throw new MwanError({
      code: 'CONFIG_INVALID',
      summary:
        `no device known for interface${missing.length > 1 ? 's' : ''} ${missing.join(', ')}: ` +
        `give --network /etc/config/network or --device ${missing[0] ?? ''}=DEVICE`,
    });
  }
  const defaulted = ifaceSections.filter((s) => id(s) in config.interfaces && absentTiming(s).length > 0);
  if (defaulted.length > 0) {
    const t = MWAN3_TIMING;
    // The slow defaults matter only where they decide how soon a dead WAN is noticed.
    const slow = defaulted.some((s) => absentTiming(s).some((k) => ['timeout', 'interval', 'down', 'up'].includes(k)));
    note(
      `interface ${defaulted.map((s) => `${id(s)} (${absentTiming(s).join(', ')})`).join(', ')}`,
      `unset, so written with mwan3's values (timeout ${String(t.timeout)}, interval ${String(t.interval)}, down ${String(t.down)}, ` +
        `up ${String(t.up)}, failure/recovery interval = interval, count ${String(t.count)}, reliability ${String(t.reliability)})` +
        (slow ? ': a dead WAN then goes offline after about a minute; timeout 1, interval 2, down 3, up 3 notice it in about 6 s' : ''),
    );
  }
  for (const [v6, v4] of partnerOf) {
    const target = config.interfaces[id(v4)] as Interface;
    target.family = 'both';
    target.gateway6 = 'auto';
    // mwan3 never NATs IPv6 (it has no IPv6 NAT rule): the ISP routes the prefix.
    target.nat6 = 'none';
    // wan6's own tracking (mwan3 runs a mwan3track per section): the IPv6 state of the dual-stack interface.
    if ((v6.lists.track_ip ?? []).length > 0) {
      const track6 = mapTrack(v6, id(v6), 'ipv6', note);
      if (track6) target.track6 = track6;
    }
    // Either half asking for a flush on an event: the one dual-stack interface flushes on it.
    const flush = [...new Set([...(target.flushConntrack ?? []), ...flushEvents(v6)])];
    if (flush.length > 0) target.flushConntrack = flush;
  }
  const ifaceName = (n: string) => renamed.get(n) ?? n;

  // --- members inline into policies -----------------------------------------------------------------------
  const members = new Map(of('member').map((m) => [id(m), m]));
  // A policy with no member left is, in mwan3, a chain holding only its last resort.
  const emptyPolicies = new Map<string, 'unreachable' | 'blackhole' | 'default'>();
  // use_policy 'default' is the main table in mwan3 whatever a section of that name holds (and 'unreachable',
  // 'blackhole' those marks): such a section is kept under another name, and no rule reaches it (as in mwan3).
  const policyName = new Map(
    of('policy').map((p) => {
      const name = id(p);
      const meaning = RESERVED_MEANING[name];
      if (meaning === undefined) return [p, name];
      let renamedTo = `${name}_policy`;
      while (of('policy').some((q) => id(q) === renamedTo)) renamedTo += '_';
      note(
        `policy ${name}`,
        `kept as "${renamedTo}": in mwan3 use_policy '${name}' always means ${meaning}, so rules naming it ` + 'do so here too and this section is never used',
      );
      return [p, renamedTo];
    }),
  );
  for (const p of of('policy')) {
    const name = policyName.get(p) ?? id(p);
    const policy: Policy = { members: [] as unknown as Policy['members'] };
    const byIface = new Map<string, Policy['members'][number]>();
    // The section each imported member names: two members of one merged wan/wan6 pair are not one WAN twice.
    const sectionOf = new Map<string, string>();
    for (const mName of p.lists.use_member ?? []) {
      const m = members.get(mName);
      if (!m) throw new MwanError({ code: 'CONFIG_INVALID', summary: `policy ${name}: use_member ${mName} is not a member section` });
      const given = m.options.interface ?? '';
      const iface = ifaceName(given);
      if (!(iface in config.interfaces)) {
        if (ifaceSections.some((t) => id(t) === iface)) note(`policy ${name}`, `member ${mName} dropped: interface ${iface} was left out`);
        // mwan3_set_policy finds no interface id for it and returns: the member does nothing.
        else note(`policy ${name}`, `member ${mName} skipped: interface "${given}" has no interface section (mwan3 skips it too)`);
        continue;
      }
      const metric = Number(m.options.metric ?? '1');
      const weight = Number(m.options.weight ?? '1');
      const before = byIface.get(iface);
      if (before !== undefined && sectionOf.get(iface) !== given) {
        note(`policy ${name}`, `member ${mName} (${given}) dropped: ${iface} is already a member (IPv4 and IPv6 of one uplink are one interface now)`);
        continue;
      }
      if (before !== undefined) {
        const beforeMetric = before.metric ?? 1;
        if (metric === beforeMetric) {
          // mwan3 adds every member's weight to the tier's total and gives each its own share: they add up.
          before.weight = (before.weight ?? 1) + weight;
          note(
            `policy ${name}`,
            `member ${mName}: ${iface} is a member twice at metric ${String(metric)}: weights added (${String(before.weight)}), as mwan3 adds both shares`,
          );
        } else {
          // A higher tier of the same WAN is offline whenever the lower one is: mwan3 never uses it.
          if (metric < beforeMetric) Object.assign(before, { metric, weight });
          note(`policy ${name}`, `member ${mName}: ${iface} is a member twice: only its lowest metric (${String(before.metric ?? 1)}) counts, as in mwan3`);
        }
        continue;
      }
      const member: Policy['members'][number] = { interface: iface };
      if (m.options.metric !== undefined) member.metric = metric;
      if (m.options.weight !== undefined) member.weight = weight;
      byIface.set(iface, member);
      sectionOf.set(iface, given);
      policy.members.push(member);
    }
    const lr = p.options.last_resort;
    if (lr === 'unreachable' || lr === 'blackhole' || lr === 'default') policy.lastResort = lr;
    else if (lr !== undefined) note(`policy ${name}.last_resort`, `"${lr}" is not unreachable, blackhole or default: unreachable used`);
    if (policy.members.length === 0) {
      const last = policy.lastResort ?? 'unreachable';
      emptyPolicies.set(name, last);
      note(`policy ${name}`, `has no member: skipped (rules using it use its last resort "${last}", as in mwan3)`);
      continue;
    }
    if (id(p).length > 15) {
      note(
        `policy ${name}`,
        'over 15 characters: mwan3 builds no such policy ("exceeds max of 15 chars"), and a rule using it would jump to a chain ' +
          'whose name iptables refuses (read from mwan3.sh, not run): imported as a policy, which mwan3 never ran',
      );
    }
    config.policies[name] = policy;
  }

  // --- rules ----------------------------------------------------------------------------------------------
  const sets: NonNullable<NftMwanConfig['sets']> = {};
  for (const r of of('rule')) {
    const name = id(r).replace(/[^A-Za-z0-9_.-]/g, '_');
    // Rules mwan3 would not install are skipped, never widened: a rule that matches more steals traffic.
    const skip = (why: string) => {
      note(`rule ${name}`, `${why}: skipped, as mwan3 skips it`);
    };
    if (r.name !== null && r.name.length > 15) {
      skip('name over 15 characters (mwan3: "exceeds max of 15 chars. Not setting rule")');
      continue;
    }
    const usePolicy = r.options.use_policy;
    if (usePolicy === undefined || usePolicy === '') {
      skip('no use_policy');
      continue;
    }
    const rule: Rule = { name, policy: usePolicy };
    const last = emptyPolicies.get(usePolicy);
    if (last !== undefined) {
      note(`rule ${name}.use_policy`, `policy ${usePolicy} has no member: its last resort "${last}" used`);
      rule.policy = last;
    } else if (!(rule.policy in config.policies) && !SPECIAL_POLICIES.has(rule.policy)) {
      // mwan3 creates the rule's chain mwan3_policy_X empty: the jump returns unmarked and the next rules decide.
      skip(`use_policy "${usePolicy}" is not a policy section (mwan3 jumps to an empty chain, and the next rules decide)`);
      continue;
    }
    const proto = r.options.proto ?? 'all';
    if (spacedProto(name, proto, note)) continue;
    const mapped = mapProtocol(proto);
    if ('error' in mapped) {
      skip(`proto ${mapped.error}`);
      continue;
    }
    if (mapped.proto !== 'all') rule.proto = mapped.proto;
    const srcIface = r.options.src_iface;
    const srcDev = srcIface === undefined ? undefined : deviceOf(srcIface);
    if (srcDev === null) {
      // srcDev is null only for a src_iface that is given.
      const given = srcIface as string;
      skip(`src_iface: no device known for "${given}" (give --network or --device ${given}=DEVICE)`);
      continue;
    }
    const family = r.options.family;
    if (family === 'ipv4' || family === 'ipv6') rule.family = family;
    for (const [opt, field] of [
      ['src_ip', 'srcIp'],
      ['dest_ip', 'destIp'],
    ] as const) {
      const values = split(r.options[opt], r.lists[opt]).map(dottedMask);
      const kept = values.filter((v) => {
        // 0.0.0.0/0 and ::/0 mean "this family, any address".
        if (v === '0.0.0.0/0' || v === '::/0') {
          rule.family ??= v === '::/0' ? 'ipv6' : 'ipv4';
          return false;
        }
        return true;
      });
      for (const v of kept) {
        const parsed = parseIpElement(v);
        if ('error' in parsed && parseMaskedIpv4(v) === undefined)
          throw new MwanError({ code: 'CONFIG_INVALID', summary: `rule ${name}.${opt}: ${parsed.error}` });
      }
      if (kept.length > 0) rule[field] = kept as [string, ...string[]];
    }
    for (const [opt, field] of [
      ['src_port', 'srcPort'],
      ['dest_port', 'destPort'],
    ] as const) {
      const values = split(r.options[opt], r.lists[opt]).map((p) => p.replace(':', '-'));
      if (values.length === 0) continue;
      if (rule.proto === 'tcp' || rule.proto === 'udp') spacedPorts(name, opt, [r.options[opt], ...(r.lists[opt] ?? [])], note);
      if (rule.proto !== 'tcp' && rule.proto !== 'udp') {
        note(`rule ${name}.${opt}`, `ports need tcp or udp (proto is ${proto}): dropped, as mwan3 ignores them`);
        continue;
      }
      rule[field] = values.map((v) => (/^\d+$/.test(v) ? Number(v) : v)) as [number | string, ...(number | string)[]];
    }
    if (srcDev !== undefined) rule.srcIface = [srcDev];
    if (r.options.ipset !== undefined) {
      const setName = r.options.ipset.replace(/[^A-Za-z0-9_]/g, '_');
      sets[setName] ??= { type: rule.family === 'ipv6' ? 'ipv6_addr' : 'ipv4_addr' };
      rule.set = setName;
      note(
        `rule ${name}.ipset`,
        `now the nft set "${setName}" (inet nft_mwan): fill it with \`nft-mwan set add ${setName} ...\` or dnsmasq nftset=/domain/4#inet#nft_mwan#${setName}`,
      );
    }
    if (r.options.sticky === '1') {
      if (SPECIAL_POLICIES.has(rule.policy)) note(`rule ${name}.sticky`, `dropped: policy ${rule.policy} has no WAN to stick to`);
      else {
        rule.sticky = true;
        if (r.options.timeout !== undefined) rule.stickyTimeout = Number(r.options.timeout);
      }
    }
    if (r.options.logging === '1') rule.log = true;
    config.rules?.push(rule);
  }
  if (Object.keys(sets).length > 0) config.sets = sets;
  ipv6LastResort(config, note);
  noteEveryConfig(note);
  return { config, notes };
}
