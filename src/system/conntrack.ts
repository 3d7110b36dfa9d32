// Adapter around conntrack(8): delete the connections one WAN's mark owns, never anything else.
import { commandLine, type Runner } from './runner.js';
import { MwanError } from '../errors.js';

const hex = (n: number) => `0x${n.toString(16)}`;

/** Deletes conntrack entries whose mark, under `mask`, is `mark`; returns how many were deleted. */
export async function flushByMark(run: Runner, mark: number, mask: number): Promise<number> {
  const args = ['-D', '-m', `${hex(mark)}/${hex(mask)}`];
  const r = await run('conntrack', args);
  // conntrack -D exits 1 when nothing matched; it reports the count on stderr either way.
  const counted = /(\d+) flow entries have been deleted/.exec(r.stderr);
  if (r.exitCode === 0 || (r.exitCode === 1 && counted?.[1] === '0')) return Number(counted?.[1] ?? 0);
  throw new MwanError({ code: 'COMMAND_FAILED', summary: 'conntrack could not delete entries', command: commandLine('conntrack', args), exitCode: r.exitCode, stderr: r.stderr });
}
