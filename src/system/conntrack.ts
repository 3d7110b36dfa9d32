// Adapter around conntrack(8): delete the connections one WAN's mark owns, never anything else.
import { commandLine, type Runner } from './runner.js';
import { MwanError } from '../model/errors.js';
import type { Family } from '../model/names.js';

const hex = (n: number) => `0x${n.toString(16)}`;
/** `-f FAMILY` when only one family's connections are meant (a WAN with a state per family); otherwise every family. */
const only = (family: Family | undefined) => (family === undefined ? [] : ['-f', family]);

/** Deletes conntrack entries whose mark, under `mask`, is `mark`; returns how many were deleted. */
export async function flushByMark(run: Runner, mark: number, mask: number, family?: Family): Promise<number> {
  return deleteEntries(run, ['-D', ...only(family), '-m', `${hex(mark)}/${hex(mask)}`]);
}

export interface Unanswered {
  /** TCP attempts deleted (SYN_SENT). */
  tcp: number;
  /** UDP flows deleted (never replied). */
  udp: number;
  /** UDP flows left to expire, beyond UDP_DELETE_LIMIT. */
  udpLeft: number;
}

/**
 * Deletes the connections of one mark that never got an answer: attempts into a WAN that has just failed.
 * None of them carries traffic, and while one exists its next packet is the same conntrack entry, NATed to
 * the dead WAN's address and routed to it. For TCP (SYN_SENT) that is a retransmitted SYN, or a new
 * connection that reuses the ports, for up to two minutes (conntrack's SYN_SENT timeout); for UDP, a client
 * retrying from one port (a VPN, SIP) refreshes the entry with every packet, for as long as it retries.
 * Deleted, the next packet is a NEW connection and is balanced again.
 */
export async function flushUnanswered(run: Runner, mark: number, mask: number, family?: Family): Promise<Unanswered> {
  const tcp = await deleteEntries(run, ['-D', ...only(family), '-p', 'tcp', '--state', 'SYN_SENT', '-m', `${hex(mark)}/${hex(mask)}`]);
  const { deleted: udp, left: udpLeft } = await flushUnansweredUdp(run, mark, mask, family);
  return { tcp, udp, udpLeft };
}

export interface UdpFlow {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  zone?: number;
}

/**
 * The UDP flows in `conntrack -L` output that never got a reply ([UNREPLIED] in the original direction),
 * by their original tuple. conntrack(8) cannot filter on that itself: its --status has no "not SEEN_REPLY".
 */
export function unrepliedUdpFlows(listing: string): UdpFlow[] {
  return listing.split('\n').flatMap((line): UdpFlow[] => {
    const m = /^udp\s+17\s+\d+\s+src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+) (?:\S+=\S+ )*\[UNREPLIED\] src=/.exec(line);
    if (!m) return [];
    const zone = /\bzone=(\d+)/.exec(line);
    return [{ src: m[1] as string, dst: m[2] as string, sport: Number(m[3]), dport: Number(m[4]), ...(zone ? { zone: Number(zone[1]) } : {}) }];
  });
}

/** At most this many unanswered UDP flows are deleted per event, one conntrack process each, 8 at a time. */
export const UDP_DELETE_LIMIT = 1024;
const UDP_DELETE_PARALLEL = 8;

/**
 * flushUnanswered's UDP half: lists the mark's UDP flows and deletes the unreplied ones by tuple. Returns
 * how many were deleted, and how many were left because there were more than UDP_DELETE_LIMIT.
 */
export async function flushUnansweredUdp(run: Runner, mark: number, mask: number, family?: Family): Promise<{ deleted: number; left: number }> {
  const m = `${hex(mark)}/${hex(mask)}`;
  const args = ['-L', ...only(family), '-p', 'udp', '-m', m];
  const r = await run('conntrack', args);
  if (r.exitCode !== 0) {
    throw new MwanError({
      code: 'COMMAND_FAILED',
      summary: 'conntrack could not list entries',
      command: commandLine('conntrack', args),
      exitCode: r.exitCode,
      stderr: r.stderr,
    });
  }
  const all = unrepliedUdpFlows(r.stdout);
  const flows = all.slice(0, UDP_DELETE_LIMIT);
  let deleted = 0;
  for (let i = 0; i < flows.length; i += UDP_DELETE_PARALLEL) {
    const batch = flows
      .slice(i, i + UDP_DELETE_PARALLEL)
      .map((f) =>
        deleteEntries(run, [
          '-D',
          ...only(family),
          '-p',
          'udp',
          '-s',
          f.src,
          '-d',
          f.dst,
          '--sport',
          String(f.sport),
          '--dport',
          String(f.dport),
          '-m',
          m,
          ...(f.zone === undefined ? [] : ['-w', String(f.zone)]),
        ]),
      );
    // One that got its reply or expired in the meantime is simply not there any more (0 deleted).
    deleted += (await Promise.all(batch)).reduce((a, b) => a + b, 0);
  }
  return { deleted, left: all.length - flows.length };
}

async function deleteEntries(run: Runner, args: string[]): Promise<number> {
  const r = await run('conntrack', args);
  // conntrack -D exits 1 when nothing matched; it reports the count on stderr either way.
  const counted = /(\d+) flow entries have been deleted/.exec(r.stderr);
  if (r.exitCode === 0 || (r.exitCode === 1 && counted?.[1] === '0')) return Number(counted?.[1] ?? 0);
  throw new MwanError({
    code: 'COMMAND_FAILED',
    summary: 'conntrack could not delete entries',
    command: commandLine('conntrack', args),
    exitCode: r.exitCode,
    stderr: r.stderr,
  });
}
