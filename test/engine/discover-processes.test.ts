// How many ip processes a discovery runs, and what it takes from them: one per family, carrying the device list and
// (when fresh) every route; nothing on the daemon's fast path; an unreadable route listing loses only a warning.
import { describe, expect, it } from 'vitest';
import { discover } from '../../src/engine/discover.js';
import { MwanError } from '../../src/model/errors.js';
import type { InProcessNft, Runner } from '../../src/system/runner.js';
import { resolved } from '../compile/fixtures.js';

/** What one batch line prints: a whole document, or (a failing command) an unfinished one, after which ip stops. */
type Answer = { doc: unknown } | { text: string } | { fails: string };

/** The system: wan1 with an address, lan0 without any (still a device), a stranger's route in table 1001 (nft-mwan's first). */
function system(over: Record<string, Answer> = {}) {
  const link = (ifname: string) => ({ ifname, flags: ['BROADCAST', 'UP', 'LOWER_UP'], operstate: 'UP' });
  const answers: Record<string, Answer> = {
    '-4 rule show': { doc: [{ priority: 0, src: 'all', table: 'local' }] },
    '-4 route show table all proto 77': { doc: [] },
    '-4 route show table main': {
      doc: [
        { dst: 'default', gateway: '192.0.2.1', dev: 'wan1' },
        { dst: '192.0.2.0/24', dev: 'wan1', scope: 'link' },
      ],
    },
    '-4 addr show': { doc: [{ ifname: 'wan1', addr_info: [{ family: 'inet', local: '192.0.2.2', prefixlen: 24, scope: 'global' }] }] },
    '-4 link show': { doc: [link('lo'), link('wan1'), link('lan0')] },
    '-4 route show table all': { doc: [{ dst: '10.9.0.0/16', dev: 'lan0', table: '1001', protocol: 'static' }] },
    '-6 rule show': { doc: [] },
    '-6 route show table all proto 77': { doc: [] },
    '-6 route show table main': { doc: [{ dst: 'default', gateway: '2001:db8::1', dev: 'wan1', metric: 1024 }] },
    '-6 addr show': { doc: [{ ifname: 'wan1', addr_info: [{ family: 'inet6', local: '2001:db8::2', prefixlen: 64, scope: 'global' }] }] },
    '-6 route show table all': { doc: [{ dst: '2001:db8:9::/48', dev: 'lan0', table: '1001', protocol: 'boot' }] },
    ...over,
  };
  /** Every process started, in order, with the lines it was given; and when the nft library was asked for. */
  const started: { cmd: string; lines: string[] }[] = [];
  const run: Runner = async (file, args, opts) => {
    const cmd = [file, ...args].join(' ');
    const lines = (opts?.input ?? '').split('\n').filter((l) => l !== '');
    started.push({ cmd, lines });
    const batch = /^ip -j (-[46]) -batch -$/.exec(cmd);
    if (batch) {
      let stdout = '';
      for (const line of lines) {
        const a = answers[`${batch[1]} ${line}`];
        if (a === undefined) throw new Error(`no answer for ${batch[1]} ${line}`);
        if ('fails' in a) return { stdout: stdout + a.fails, stderr: 'Dump terminated\n', exitCode: 2 };
        stdout += `${'doc' in a ? JSON.stringify(a.doc) : a.text}\n`;
      }
      return { stdout, stderr: '', exitCode: 0 };
    }
    // No table installed yet: nft says so, and lists no tables when asked which there are.
    if (cmd === 'nft -j list table inet nft_mwan') return { stdout: '', stderr: 'Error: No such file or directory\n', exitCode: 1 };
    if (cmd === 'nft -j list tables') return { stdout: '{"nftables":[]}', stderr: '', exitCode: 0 };
    throw new Error(`unexpected command ${cmd}`);
  };
  return { run, started };
}

const config4 = resolved({
  interfaces: { wan1: { device: 'wan1', gateway: 'auto' } },
  policies: { only: { members: [{ interface: 'wan1' }] } },
  rules: [{ name: 'default', policy: 'only' }],
});
const config46 = resolved({
  interfaces: { wan1: { device: 'wan1', family: 'both', gateway: 'auto', gateway6: 'auto' } },
  policies: { only: { members: [{ interface: 'wan1' }] } },
  rules: [{ name: 'default', policy: 'only' }],
});
const routeWarnings = (foreign: readonly string[] | undefined) => (foreign ?? []).filter((w) => w.startsWith('/globals/routeTableBase'));

describe('a fresh discovery runs one ip process per family', () => {
  it('an IPv4 config: one `ip -j -4 -batch -`, which gives the devices (one without an address too) and the stranger route', async () => {
    const sys = system();
    const d = await discover(sys.run, config4);
    const ip = sys.started.filter((s) => s.cmd.startsWith('ip '));
    expect(ip.map((s) => s.cmd)).toEqual(['ip -j -4 -batch -']);
    expect(ip[0]?.lines).toEqual(expect.arrayContaining(['link show', 'route show table all']));
    expect(d.facts.devices).toEqual(['lo', 'wan1', 'lan0']);
    expect(d.ip.devices).toEqual(['lo', 'wan1', 'lan0']);
    expect(routeWarnings(d.facts.foreign)).toEqual([expect.stringMatching(/foreign IPv4 route \(10\.9\.0\.0\/16 dev lan0, proto static\) is in table 1001/)]);
    expect(d.facts.autoGateways).toEqual({ wan1: '192.0.2.1' });
  });

  it('an IPv4+IPv6 config: two processes, the devices from the IPv4 one, stranger routes from both', async () => {
    const sys = system();
    const d = await discover(sys.run, config46);
    const ip = sys.started.filter((s) => s.cmd.startsWith('ip '));
    expect(ip.map((s) => s.cmd).sort()).toEqual(['ip -j -4 -batch -', 'ip -j -6 -batch -']);
    expect(ip.find((s) => s.cmd.includes('-6'))?.lines).not.toContain('link show');
    expect(d.facts.devices).toEqual(['lo', 'wan1', 'lan0']);
    expect(routeWarnings(d.facts.foreign)).toEqual([
      expect.stringMatching(/foreign IPv4 route \(10\.9\.0\.0\/16 dev lan0, proto static\) is in table 1001/),
      expect.stringMatching(/foreign IPv6 route \(2001:db8:9::\/48 dev lan0, proto boot\) is in table 1001/),
    ]);
    expect(d.facts.autoGateways6).toEqual({ wan1: '2001:db8::1' });
  });

  it('the ip processes start before nft is asked (loading libnftables in process then overlaps them)', async () => {
    const sys = system();
    const order: string[] = [];
    const nft: InProcessNft = {
      library: () => {
        order.push('nft library');
        return Promise.resolve(null);
      },
      log: () => undefined,
    };
    const run: Runner = Object.assign(
      (file: string, args: readonly string[], opts?: Parameters<Runner>[2]) => {
        order.push([file, ...args].join(' '));
        return sys.run(file, args, opts);
      },
      { nft },
    );
    await discover(run, config46);
    expect(order.indexOf('nft library')).toBeGreaterThan(order.indexOf('ip -j -4 -batch -'));
    expect(order.indexOf('nft library')).toBeGreaterThan(order.indexOf('ip -j -6 -batch -'));
  });
});

describe('the daemon: no other process than the ip read it needs', () => {
  it('with the table known and the ip snapshot current, nothing is spawned', async () => {
    const first = await discover(system().run, config4);
    const sys = system();
    const d = await discover(sys.run, config4, [], first.ip);
    expect(sys.started).toEqual([]);
    expect(d.facts.devices).toEqual(['lo', 'wan1', 'lan0']);
  });

  it('with the table known but the ip state changed, one ip process, without the listing of every route', async () => {
    const sys = system();
    const d = await discover(sys.run, config4, []);
    expect(sys.started.map((s) => s.cmd)).toEqual(['ip -j -4 -batch -']);
    expect(sys.started[0]?.lines).toContain('link show');
    expect(sys.started[0]?.lines).not.toContain('route show table all');
    expect(d.facts.devices).toEqual(['lo', 'wan1', 'lan0']);
  });
});

describe('the listing of every route feeds only a warning', () => {
  it.each<[string, Answer]>([
    ['a document that is not JSON', { text: '[{"dst":"10.9.0.0/16",' }],
    ['a document that is not a list', { doc: { dst: '10.9.0.0/16', table: '1001' } }],
    ['a list of things that are not routes', { doc: [null, 7, 'x'] }],
    ['a listing that failed (ip stops, its document unfinished)', { fails: '[{"dst":"10.9.0.0/16","table":"1001"' }],
  ])('%s: discovery succeeds, with every other fact and no route warning', async (_name, answer) => {
    const sys = system({ '-4 route show table all': answer });
    const d = await discover(sys.run, config4);
    expect(routeWarnings(d.facts.foreign)).toEqual([]);
    expect(d.facts.devices).toEqual(['lo', 'wan1', 'lan0']);
    expect(d.facts.autoGateways).toEqual({ wan1: '192.0.2.1' });
  });

  it('a failure of any other listing still fails the discovery', async () => {
    const sys = system({ '-4 link show': { fails: '[{"ifname":"lo"' } });
    const error: unknown = await discover(sys.run, config4).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MwanError);
    expect(error).toMatchObject({ code: 'COMMAND_FAILED', exitCode: 2, command: 'ip -j -4 -batch -' });
  });
});
