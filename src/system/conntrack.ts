// Adapter around conntrack(8): delete the connections one WAN's mark owns, never anything else.
import { commandLine, type Runner } from './runner.js';
import { MwanError } from '../errors.js';

const hex = (n: number) => `0x${n.toString(16)}`;

/** Deletes conntrack entries whose mark, under `mask`, is `mark`; returns how many were deleted. */
export async function flushByMark(run: Runner, mark: number, mask: number): Promise<number> {
  return deleteEntries(run, ['-D', '-m', `${hex(mark)}/${hex(mask)}`]);
}

/**
 * Deletes the TCP connections of one mark that never got an answer (SYN_SENT): attempts into a WAN that has
 * just failed. None of them carries traffic, and while one exists, its retransmitted SYN, or a new connection
 * that reuses its ports, is the same conntrack entry: it would keep going to the dead WAN for up to two
 * minutes (conntrack's SYN_SENT timeout). Deleted, the next SYN is a NEW connection and is balanced again.
 */
export async function flushUnanswered(run: Runner, mark: number, mask: number): Promise<number> {
  return deleteEntries(run, ['-D', '-p', 'tcp', '--state', 'SYN_SENT', '-m', `${hex(mark)}/${hex(mask)}`]);
}

async function deleteEntries(run: Runner, args: string[]): Promise<number> {
  const r = await run('conntrack', args);
  // conntrack -D exits 1 when nothing matched; it reports the count on stderr either way.
  const counted = /(\d+) flow entries have been deleted/.exec(r.stderr);
  if (r.exitCode === 0 || (r.exitCode === 1 && counted?.[1] === '0')) return Number(counted?.[1] ?? 0);
  throw new MwanError({ code: 'COMMAND_FAILED', summary: 'conntrack could not delete entries', command: commandLine('conntrack', args), exitCode: r.exitCode, stderr: r.stderr });
}
