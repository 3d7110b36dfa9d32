// One mwan3 interface section -> one nft-mwan interface: its tracking, its conntrack flush events, and what a
// wan6 merged into its wan on the same device brings along or loses. Pure.
import type { Interface, Track } from '../generated/config.js';
import { addressFamily, isHostName } from '../model/targets.js';
import { sectionId, type UciSection } from './parse.js';

/** Records one option mapped differently or not at all: where (`interface wan.track_ip`) and why. */
export type Note = (where: string, text: string) => void;

/** The options of an interface section mwan3 2.12 knows. */
export const INTERFACE_OPTIONS = [
  'enabled',
  'initial_state',
  'family',
  'track_ip',
  'track_method',
  'reliability',
  'count',
  'size',
  'max_ttl',
  'timeout',
  'interval',
  'failure_interval',
  'recovery_interval',
  'keep_failure_interval',
  'down',
  'up',
  'check_quality',
  'failure_latency',
  'failure_loss',
  'recovery_latency',
  'recovery_loss',
  'flush_conntrack',
  'httping_ssl',
];

/** mwan3track's values for absent timing options (failure_interval and recovery_interval default to interval). */
export const MWAN3_TIMING = { reliability: 1, count: 1, timeout: 4, interval: 10, down: 5, up: 5 } as const;
const TIMING_OPTIONS = ['reliability', 'count', 'timeout', 'interval', 'failure_interval', 'recovery_interval', 'down', 'up'] as const;

/** The timing options an interface section leaves to mwan3track's defaults: import writes mwan3's values for them. */
export function absentTiming(s: UciSection): string[] {
  return (s.lists.track_ip ?? []).length === 0 ? [] : TIMING_OPTIONS.filter((k) => s.options[k] === undefined);
}

const TRACK_METHODS: Record<string, { method: NonNullable<Track['method']>; why?: string }> = {
  ping: { method: 'ping' },
  nping_icmp: { method: 'ping', why: 'nping-icmp is an ICMP echo: ping' },
  'nping-icmp': { method: 'ping', why: 'nping-icmp is an ICMP echo: ping' },
  'nping-tcp': { method: 'tcp', why: 'TCP connect to port 80 of each target, as nping --tcp does' },
  'nping-udp': { method: 'ping', why: 'UDP probes prove little (no answer is also "up" to some servers): ICMP echo used' },
  'nping-arp': { method: 'ping', why: 'ARP only proves the next hop: ICMP echo used' },
  arping: { method: 'ping', why: 'ARP only proves the next hop: ICMP echo used' },
  httping: { method: 'http', why: 'HTTP GET of TARGET with a 2xx/3xx answer (httping: any HTTP answer)' },
  nslookup: { method: 'dns', why: 'a DNS query to each target' },
};

/** mwan3's flush_conntrack events as nft-mwan's: ifdown and disconnected go offline, ifup and connected come online. */
function flushEvent(v: string): 'offline' | 'online' | null {
  return v === 'ifdown' || v === 'disconnected' ? 'offline' : v === 'ifup' || v === 'connected' ? 'online' : null;
}

export function flushEvents(s: UciSection): ('offline' | 'online')[] {
  return (s.lists.flush_conntrack ?? []).flatMap((v) => flushEvent(v) ?? []);
}

/** flush_conntrack values mwan3 does not know: noted, never silently dropped. */
function noteUnknownFlush(s: UciSection, note: Note): void {
  const unknown = (s.lists.flush_conntrack ?? []).filter((v) => flushEvent(v) === null);
  if (unknown.length > 0) note(`interface ${sectionId(s)}.flush_conntrack`, `${unknown.join(', ')}: not ifup, ifdown, connected or disconnected: ignored`);
}

/**
 * Tracking targets of one family nft-mwan can probe (its addresses, and host names, looked up in that family), and
 * a note for every one it cannot, with the reason.
 */
function familyTargets(s: UciSection, name: string, family: 'ipv4' | 'ipv6', note: Note): string[] {
  const targets = s.lists.track_ip ?? [];
  const kept: string[] = [];
  const names: string[] = [];
  const other: string[] = [];
  const junk: string[] = [];
  for (const t of targets) {
    const kind = addressFamily(t) ?? (isHostName(t) ? 'name' : null);
    if (kind === null) junk.push(t);
    else if (kind === 'name') {
      kept.push(t);
      names.push(t);
    } else (kind === family ? kept : other).push(t);
  }
  const label = family === 'ipv4' ? 'IPv4' : 'IPv6';
  if (other.length > 0) {
    note(
      `interface ${name}.track_ip`,
      `${other.join(', ')} dropped: not ${label}, and this section tracks its own family (mwan3track pings with the section's family)`,
    );
  }
  if (junk.length > 0) note(`interface ${name}.track_ip`, `${junk.join(', ')} dropped: neither an address nor a host name`);
  if (names.length > 0) {
    // mwan3 runs ping/httping under its socket wrapper, which binds every socket the tool opens (its
    // resolver's too) to the WAN; nft-mwan looks names up as any of the router's own traffic.
    note(
      `interface ${name}.track_ip`,
      `${names.join(', ')}: looked up at every round through the router's resolver (${label} address), the probe then sent ` +
        "through this WAN; mwan3's probe tool sends its own lookup through the WAN under test. A name that does not resolve is a missed probe",
    );
  }
  return kept;
}

/**
 * What a wan6 merged into its wan brings along, and what it loses: every difference is noted. Its own tracking
 * becomes the dual-stack interface's track6 (see mapTrack), so each family keeps its own state, as in mwan3.
 */
export function mergeNotes(v6: UciSection, v4: UciSection, note: Note): void {
  const name = sectionId(v6);
  const into = sectionId(v4);
  const targets = v6.lists.track_ip ?? [];
  if (targets.length > 0) {
    note(`interface ${name}.track_ip`, `its IPv6 tracking becomes ${into}'s "track6": IPv6 connections follow its own state, IPv4 ones ${into}'s`);
  } else {
    if ((v4.lists.track_ip ?? []).length > 0) {
      note(`interface ${name}`, `has no track_ip: ${into}'s IPv4 tracking decides for both families (mwan3 kept ${name} up while its link was)`);
    }
    const tracking = Object.keys(v6.options).filter((k) => INTERFACE_OPTIONS.includes(k) && !['enabled', 'family', 'initial_state'].includes(k));
    if (tracking.length > 0) note(`interface ${name}.${tracking.join(', ')}`, `not mapped: ${into}'s tracking settings decide for both families`);
  }
  const state = (s: UciSection) => s.options.initial_state ?? 'online';
  if (state(v6) !== state(v4))
    note(`interface ${name}.initial_state`, `"${state(v6)}" dropped: ${into}'s initial_state ("${state(v4)}") is the dual-stack interface's`);
  const own = new Set(flushEvents(v4));
  const added = (v6.lists.flush_conntrack ?? []).filter((v) => {
    const event = flushEvent(v);
    return event !== null && !own.has(event);
  });
  if (added.length > 0) {
    note(
      `interface ${name}.flush_conntrack`,
      `${added.join(', ')} merged into ${into}: the dual-stack interface deletes its own connections of both families on that event`,
    );
  }
  noteUnknownFlush(v6, note);
}

export function mapInterface(s: UciSection, name: string, device: string, family: string, note: Note): Interface {
  const o = s.options;
  const iface: Interface = { device };
  if (family === 'ipv6') {
    iface.family = 'ipv6';
    iface.gateway6 = 'auto';
    // mwan3 never NATs IPv6.
    iface.nat6 = 'none';
  } else {
    iface.gateway = 'auto';
  }
  // mwan3's default is enabled 0: an interface section without `option enabled '1'` does nothing.
  if (o.enabled !== '1') {
    iface.enabled = false;
    note(`interface ${name}.enabled`, `is ${o.enabled === undefined ? 'unset (mwan3 default 0)' : `"${o.enabled}"`}: imported as "enabled": false`);
  }
  if (o.initial_state === 'offline' || o.initial_state === 'online') iface.initialState = o.initial_state;
  else if (o.initial_state !== undefined) note(`interface ${name}.initial_state`, `"${o.initial_state}" is not online or offline: online used`);
  if ((s.lists.track_ip ?? []).length > 0) {
    const track = mapTrack(s, name, family === 'ipv6' ? 'ipv6' : 'ipv4', note);
    if (track) iface.track = track;
  } else {
    note(`interface ${name}`, 'has no track_ip: online while its link is up (as mwan3 without tracking)');
  }
  if (iface.track === undefined && iface.initialState === 'offline' && iface.enabled !== false) {
    // No mwan3track runs for it, so nothing ever sends "connected": mwan3 never uses it.
    iface.enabled = false;
    note(`interface ${name}.initial_state`, 'offline and not tracked: mwan3 never brings it online: imported as "enabled": false');
  }
  const flush = flushEvents(s);
  if (flush.length > 0) {
    iface.flushConntrack = [...new Set(flush)];
    note(
      `interface ${name}.flush_conntrack`,
      "deletes only this WAN's connections on those events; mwan3 flushed every connection of the router (echo f > /proc/net/nf_conntrack)",
    );
  }
  noteUnknownFlush(s, note);
  return iface;
}

/** A section's tracking of one family (its targets of that family), or undefined when none is left (noted). */
export function mapTrack(s: UciSection, name: string, family: 'ipv4' | 'ipv6', note: Note): Track | undefined {
  const o = s.options;
  const label = family === 'ipv4' ? 'IPv4' : 'IPv6';
  // 'ping' is in TRACK_METHODS without a why: the unset option never reaches either message.
  const method = o.track_method ?? 'ping';
  const m = TRACK_METHODS[method] ?? { method: 'ping' as const, why: `unknown track_method "${method}": ping used` };
  if (m.why) note(`interface ${name}.track_method`, `${method} -> ${m.method}: ${m.why}`);
  const kept = familyTargets(s, name, family, note);
  // An IPv6 address in a URL or with a port is written in brackets.
  const host = (t: string) => (family === 'ipv6' ? `[${t}]` : t);
  const scheme = o.httping_ssl === '1' ? 'https' : 'http';
  const track: Track = {
    targets: (m.method === 'tcp' ? kept.map((t) => `${host(t)}:80`) : m.method === 'http' ? kept.map((t) => `${scheme}://${host(t)}/`) : kept) as [
      string,
      ...string[],
    ],
    method: m.method,
  };
  const num = (k: string) => {
    if (o[k] === undefined) return undefined;
    if (/^\d+$/.test(o[k])) return Number(o[k]);
    note(`interface ${name}.${k}`, `"${o[k]}" is not a whole number: mwan3's default used`);
    return undefined;
  };
  const set = <K extends keyof Track>(k: K, v: Track[K]) => {
    track[k] = v;
  };
  // Absent options get mwan3track's values, written out: the import is a drop-in, not a retune.
  const interval = num('interval') ?? MWAN3_TIMING.interval;
  set('reliability', num('reliability') ?? MWAN3_TIMING.reliability);
  set('count', num('count') ?? MWAN3_TIMING.count);
  set('timeout', num('timeout') ?? MWAN3_TIMING.timeout);
  set('interval', interval);
  set('failureInterval', num('failure_interval') ?? interval);
  set('recoveryInterval', num('recovery_interval') ?? interval);
  set('down', num('down') ?? MWAN3_TIMING.down);
  set('up', num('up') ?? MWAN3_TIMING.up);
  if (track.reliability !== undefined && kept.length > 0 && track.reliability > kept.length) {
    // mwan3 would never see such an interface up; nft-mwan's schema refuses it.
    note(
      `interface ${name}.reliability`,
      `${track.reliability} is more than the ${kept.length} ${label} target${kept.length > 1 ? 's' : ''} kept: ${kept.length} used`,
    );
    track.reliability = kept.length;
  }
  if (o.check_quality === '1') track.quality = quality(s, name, m.method, track.count ?? MWAN3_TIMING.count, note);
  // 56 and 60 are both ping's and mwan3's defaults: only other values change what is sent.
  if (o.size !== undefined && o.size !== '56') note(`interface ${name}.size`, `${o.size}: not mapped: nft-mwan's probes send their own payload size`);
  if (o.max_ttl !== undefined && o.max_ttl !== '60') note(`interface ${name}.max_ttl`, `${o.max_ttl}: not mapped: nft-mwan's probes use the system TTL`);
  offlineProbeNote(name, track, o.keep_failure_interval === '1', note);
  if (kept.length > 0) return track;
  note(`interface ${name}.track_ip`, `no ${label} target left: not tracked, online while its link is up`);
  return undefined;
}

/**
 * mwan3track re-probes an offline WAN after `interval` when its round fails (`failure_interval` with
 * keep_failure_interval 1) and after `recovery_interval` when it succeeds; nft-mwan after recoveryInterval in both.
 */
function offlineProbeNote(name: string, track: Track, keep: boolean, note: Note): void {
  const failing = keep ? track.failureInterval : track.interval;
  if (failing === track.recoveryInterval) return;
  note(
    `interface ${name}.${keep ? 'keep_failure_interval' : 'recovery_interval'}`,
    `an offline WAN whose probes still fail is re-probed every ${String(failing)} s in mwan3 (${keep ? 'failure_interval' : 'interval'}), ` +
      `every ${String(track.recoveryInterval)} s (recoveryInterval) in nft-mwan`,
  );
}

/**
 * mwan3track judges each target on this round's `count` probes, and counts it up only with loss <= recovery_loss
 * and latency <= recovery_latency, online or not (failure_* only choose its log line, "down" or "skipped"). nft-mwan
 * judges each target on its last `window` probes against the failure thresholds while online, the recovery ones
 * while offline: both set to mwan3's recovery values with window = count give mwan3's decision. Only ping and
 * httping measure quality in mwan3.
 */
function quality(s: UciSection, name: string, method: string, count: number, note: Note): Track['quality'] {
  if (method !== 'ping' && method !== 'http') {
    // With another method mwan3track compares loss/latency values it never measured: read, not run, the target is
    // then never up. That is not reproduced.
    note(`interface ${name}.check_quality`, 'ignored: mwan3track measures quality only for ping and httping');
    return undefined;
  }
  const o = s.options;
  const latency = Number(o.recovery_latency ?? '500');
  const loss = Number(o.recovery_loss ?? '10');
  note(
    `interface ${name}.check_quality`,
    `a target counts as up only with loss <= ${String(loss)}% and latency <= ${String(latency)} ms, on each round's ${String(count)} probe(s), ` +
      'in every state (as mwan3track): both thresholds set to the recovery ones, window = count' +
      (o.failure_latency !== undefined || o.failure_loss !== undefined ? "; failure_latency/failure_loss only chose mwan3's log line" : ''),
  );
  return { failureLatencyMs: latency, failureLossPct: loss, recoveryLatencyMs: latency, recoveryLossPct: loss, window: count };
}
