// The conntrack adapter: which UDP flows count as never answered, and what it runs to delete them.
import { describe, expect, it } from 'vitest';
import { flushByMark, flushUnanswered, flushUnansweredUdp, unrepliedUdpFlows, UDP_DELETE_LIMIT } from '../../src/system/conntrack.js';
import type { Runner } from '../../src/system/runner.js';

const LISTING = [
  'udp      17 29 src=192.168.10.2 dst=192.0.2.10 sport=51820 dport=51820 [UNREPLIED] src=192.0.2.10 dst=198.51.100.10 sport=51820 dport=51820 mark=512 use=1',
  // Answered: never deleted, whatever its state.
  'udp      17 25 src=192.168.10.3 dst=192.0.2.10 sport=5060 dport=5060 src=192.0.2.10 dst=198.51.100.10 sport=5060 dport=5060 mark=512 use=1',
  'udp      17 110 src=192.168.10.4 dst=192.0.2.10 sport=4500 dport=4500 src=192.0.2.10 dst=198.51.100.10 sport=4500 dport=4500 [ASSURED] mark=512 use=1',
  // IPv6, with accounting on (packets= bytes=) and a zone.
  'udp      17 27 src=2001:db8:10::2 dst=2001:db8:ff::10 sport=40000 dport=53 packets=3 bytes=180 [UNREPLIED] ' +
    'src=2001:db8:ff::10 dst=2001:db8:10::2 sport=53 dport=40000 packets=0 bytes=0 mark=512 zone=4 use=1',
  // Not UDP: never (TCP's unanswered attempts have their own deletion by state).
  'tcp      6 118 SYN_SENT src=192.168.10.2 dst=192.0.2.10 sport=41000 dport=5001 [UNREPLIED] ' +
    'src=192.0.2.10 dst=198.51.100.10 sport=5001 dport=41000 mark=512 use=1',
  '',
].join('\n');

describe('unrepliedUdpFlows', () => {
  it('picks the UDP flows that never got a reply, by their original tuple, with their zone', () => {
    expect(unrepliedUdpFlows(LISTING)).toEqual([
      { src: '192.168.10.2', dst: '192.0.2.10', sport: 51820, dport: 51820 },
      { src: '2001:db8:10::2', dst: '2001:db8:ff::10', sport: 40000, dport: 53, zone: 4 },
    ]);
  });

  it('finds nothing in an empty listing', () => expect(unrepliedUdpFlows('')).toEqual([]));
});

describe('flushUnansweredUdp', () => {
  const fake =
    (listing: string, calls: string[]): Runner =>
    async (file, args) => {
      calls.push([file, ...args].join(' '));
      if (args[0] === '-L') return { stdout: listing, stderr: 'conntrack v1.4.7 (conntrack-tools): 6 flow entries have been shown.\n', exitCode: 0 };
      // The IPv6 one got its answer in the meantime: conntrack -D matches nothing and exits 1.
      const gone = args.includes('2001:db8:10::2');
      return { stdout: '', stderr: `conntrack v1.4.7 (conntrack-tools): ${gone ? 0 : 1} flow entries have been deleted.\n`, exitCode: gone ? 1 : 0 };
    };

  it("lists the mark's UDP flows and deletes each unreplied one by tuple, mark and zone; counts what went", async () => {
    const calls: string[] = [];
    expect(await flushUnansweredUdp(fake(LISTING, calls), 0x200, 0x3f00)).toEqual({ deleted: 1, left: 0 });
    expect(calls).toEqual([
      'conntrack -L -p udp -m 0x200/0x3f00',
      'conntrack -D -p udp -s 192.168.10.2 -d 192.0.2.10 --sport 51820 --dport 51820 -m 0x200/0x3f00',
      'conntrack -D -p udp -s 2001:db8:10::2 -d 2001:db8:ff::10 --sport 40000 --dport 53 -m 0x200/0x3f00 -w 4',
    ]);
  });

  it("with a family, lists and deletes only that family's flows (-f), as for a WAN with a state per family", async () => {
    const calls: string[] = [];
    await flushUnanswered(fake(LISTING, calls), 0x200, 0x3f00, 'ipv6');
    expect(calls[0]).toBe('conntrack -D -f ipv6 -p tcp --state SYN_SENT -m 0x200/0x3f00');
    expect(calls[1]).toBe('conntrack -L -f ipv6 -p udp -m 0x200/0x3f00');
    expect(calls.slice(2).every((c) => c.startsWith('conntrack -D -f ipv6 -p udp '))).toBe(true);
    const all: string[] = [];
    await flushByMark(fake('', all), 0x200, 0x3f00, 'ipv4');
    await flushByMark(fake('', all), 0x200, 0x3f00);
    expect(all).toEqual(['conntrack -D -f ipv4 -m 0x200/0x3f00', 'conntrack -D -m 0x200/0x3f00']);
  });

  it(`deletes at most ${UDP_DELETE_LIMIT} per event`, async () => {
    const many = Array.from(
      { length: UDP_DELETE_LIMIT + 5 },
      (_, i) =>
        `udp      17 29 src=192.168.10.2 dst=192.0.2.10 sport=${10000 + i} dport=53 [UNREPLIED] ` +
        `src=192.0.2.10 dst=198.51.100.10 sport=53 dport=${10000 + i} mark=512 use=1`,
    ).join('\n');
    const calls: string[] = [];
    expect(await flushUnansweredUdp(fake(many, calls), 0x200, 0x3f00)).toEqual({ deleted: UDP_DELETE_LIMIT, left: 5 });
    expect(calls).toHaveLength(1 + UDP_DELETE_LIMIT);
  });

  it('fails with the command when conntrack cannot list', async () => {
    const run: Runner = async () => ({ stdout: '', stderr: 'conntrack v1.4.7 (conntrack-tools): Operation not permitted\n', exitCode: 1 });
    await expect(flushUnansweredUdp(run, 0x200, 0x3f00)).rejects.toThrow(/could not list/);
  });
});
