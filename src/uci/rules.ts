// What mwan3 does with a rule's addresses, families and spaced values, for the import: dotted masks, IPv6 last resort. Pure.
import type { NftMwanConfig } from '../generated/config.js';
import { maskPrefix, parseMaskedIpv4 } from '../model/masked.js';
import { formatIpv4 } from '../model/net.js';
import type { Note } from './interface.js';

/**
 * mwan3 installs every rule that can match IPv6 in ip6tables too (ip6tables present is its normal case), and a policy
 * without an IPv6 member holds only its last resort there. nft-mwan does the same with globals.ipv6WithoutWan
 * "lastResort": set when no enabled WAN carries IPv6 and some rule would give IPv6 something else than the main table.
 */
export function ipv6LastResort(config: NftMwanConfig, note: Note): void {
  const carries6 = Object.values(config.interfaces).some((i) => i.enabled !== false && (i.family === 'ipv6' || i.family === 'both'));
  if (carries6) return;
  const v6Rules = (config.rules ?? []).filter(
    (r) =>
      r.family !== 'ipv4' &&
      r.policy !== 'default' &&
      // A last resort "default" is the main table in both.
      config.policies[r.policy]?.lastResort !== 'default' &&
      r.set === undefined &&
      r.proto !== 'icmp' &&
      ![...(r.srcIp ?? []), ...(r.destIp ?? [])].some((a) => !a.includes(':')),
  );
  if (v6Rules.length === 0) return;
  config.globals = { ...config.globals, ipv6WithoutWan: 'lastResort' };
  note(
    `rule ${v6Rules.map((r) => r.name).join(', ')}`,
    'IPv6 as in mwan3 (with ip6tables): no WAN carries IPv6, so the IPv6 connections these rules match get their ' +
      'policy\'s last resort (unreachable unless set): globals.ipv6WithoutWan "lastResort" (set "main" to leave all IPv6 to the main table)',
  );
}

/** iptables' address/dotted-mask: a contiguous mask as a CIDR, any other kept as ADDR/MASK (nft: `ip saddr & MASK == ADDR`). */
export function dottedMask(v: string): string {
  const m = parseMaskedIpv4(v);
  if (m === undefined) return v;
  const addr = formatIpv4((m.addr & m.mask) >>> 0);
  const prefix = maskPrefix(m.mask);
  return prefix === undefined ? `${addr}/${formatIpv4(m.mask)}` : `${addr}/${String(prefix)}`;
}

export function split(option: string | undefined, list: readonly string[] | undefined): string[] {
  return [...(option === undefined ? [] : [option]), ...(list ?? [])].flatMap((v) => v.split(/[\s,]+/)).filter((v) => v.length > 0);
}

/** What mwan3 does with an option value holding spaces: mwan3.sh expands it unquoted into its iptables-restore batch. */
const batchFails = (args: string) =>
  `mwan3 writes it unquoted into its iptables-restore batch (${args}), which refuses the whole batch: ` +
  'mwan3 then installs none of the rules of this config in that family (read from mwan3.sh, not run)';

/** A proto such as "tcp udp": noted, and true when the rule is to be skipped. */
export function spacedProto(rule: string, proto: string, note: Note): boolean {
  if (!/\s/.test(proto.trim())) return false;
  note(`rule ${rule}.proto`, `"${proto}": ${batchFails(`-p ${proto}`)}; nft-mwan skips only this rule (write one rule per protocol)`);
  return true;
}

/** Ports separated by spaces ("80 443"): noted; the import reads them as a list. */
export function spacedPorts(rule: string, option: 'src_port' | 'dest_port', values: readonly (string | undefined)[], note: Note): void {
  const spaced = values.find((v) => v !== undefined && /\S\s+\S/.test(v));
  if (spaced === undefined) return;
  const flag = option === 'src_port' ? '--sports' : '--dports';
  note(`rule ${rule}.${option}`, `"${spaced}": ${batchFails(`${flag} ${spaced}`)}; nft-mwan takes the ports as a list`);
}

/** The differences no option decides (docs/migrating-from-mwan3.md): every config meets them, so one line says so. */
export function noteEveryConfig(note: Note): void {
  note(
    'every config',
    'interface ids (marks, tables) are kept across reorders instead of renumbered; stop removes only what nft-mwan installed; ' +
      'every apply is one nft transaction, read back and verified (see docs/migrating-from-mwan3.md)',
  );
}
