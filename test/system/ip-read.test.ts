// One family's ip state from one `ip -j -batch`: the documents by position, the optional ones, and when it fails.
import { describe, expect, it } from 'vitest';
import { readIpState } from '../../src/system/ip.js';
import type { Runner } from '../../src/system/runner.js';

/** A runner printing `stdout` with `exitCode` for the batch, recording the lines it was sent. */
function batch(stdout: string, exitCode = 0) {
  const sent: string[][] = [];
  const run: Runner = (_file, _args, opts) => {
    sent.push((opts?.input ?? '').split('\n').filter((l) => l !== ''));
    return Promise.resolve({ stdout, stderr: exitCode === 0 ? '' : 'Dump terminated\n', exitCode });
  };
  return { run, sent };
}

const rules = '[{"priority":1000,"fwmark":"0x100","fwmask":"0x3f00","table":"1001","protocol":"77"}]';
const owned = '[{"dst":"default","gateway":"192.0.2.1","dev":"wan1","table":"1001","protocol":"77"}]';
const main = '[{"dst":"192.0.2.0/24","dev":"wan1","scope":"link"}]';
const addr = '[{"ifname":"wan1","addr_info":[{"family":"inet","local":"192.0.2.2","scope":"global"}]}]';
const links = '[{"ifname":"wan1","flags":["UP","LOWER_UP"],"operstate":"UP"},{"ifname":"lan0","flags":["NO-CARRIER","UP"],"operstate":"DOWN"}]';
const all = '[{"dst":"10.9.0.0/16","dev":"lan0","table":"1001","protocol":"static"}]';
const lines = (...docs: string[]) => docs.map((d) => `${d}\n`).join('');

describe('readIpState', () => {
  it('asks for links and every route only when told, and reads each document in its place', async () => {
    const b = batch(lines(rules, owned, main, addr, links, all));
    const r = await readIpState(b.run, 4, 77, { links: true, allRoutes: true });
    expect(b.sent).toEqual([['rule show', 'route show table all proto 77', 'route show table main', 'addr show', 'link show', 'route show table all']]);
    expect(r.state.rules).toMatchObject([{ priority: 1000, fwmark: 0x100, fwmask: 0x3f00, table: 1001, protocol: 77 }]);
    expect(r.state.owned).toEqual([{ family: 4, table: 1001, dst: 'default', gateway: '192.0.2.1', dev: 'wan1', protocol: 77 }]);
    expect(r.state.addresses.all).toEqual(['192.0.2.2']);
    expect([...(r.links ?? new Map()).entries()]).toEqual([
      ['wan1', { carrier: true, operstate: 'UP' }],
      ['lan0', { carrier: false, operstate: 'DOWN' }],
    ]);
    expect(r.allRoutes).toEqual([{ dst: '10.9.0.0/16', dev: 'lan0', table: '1001', protocol: 'static' }]);

    const plain = batch(lines(rules, owned, main, addr));
    const p = await readIpState(plain.run, 6, 77);
    expect(plain.sent).toEqual([['rule show', 'route show table all proto 77', 'route show table main', 'addr show']]);
    expect(p.links).toBeNull();
    expect(p.allRoutes).toBeNull();
  });

  it.each<[string, string, number, { links?: boolean; allRoutes?: boolean }]>([
    ['a document too few, exit 0', lines(rules, owned, main), 0, {}],
    ['a document too many, exit 0', lines(rules, owned, main, addr, all), 0, {}],
    ['every document but a failed exit, with nothing optional asked for', lines(rules, owned, main, addr), 1, {}],
    [
      'the link listing unfinished (it failed), every route asked for',
      `${lines(rules, owned, main, addr)}[{"ifname":"wan1"`,
      2,
      { links: true, allRoutes: true },
    ],
  ])('fails on %s', async (_name, stdout, exitCode, extras) => {
    await expect(readIpState(batch(stdout, exitCode).run, 4, 77, extras)).rejects.toMatchObject({ code: 'COMMAND_FAILED', command: 'ip -j -4 -batch -' });
  });

  it('a failed listing of every route (the last command, left unfinished) leaves the rest whole and allRoutes null', async () => {
    const r = await readIpState(batch(`${lines(rules, owned, main, addr, links)}[{"dst":"10.9.0.0/16"`, 2).run, 4, 77, { links: true, allRoutes: true });
    expect(r.allRoutes).toBeNull();
    expect([...(r.links ?? new Map()).keys()]).toEqual(['wan1', 'lan0']);
    expect(r.state.main).toEqual([{ dst: '192.0.2.0/24', dev: 'wan1', scope: 'link' }]);
  });
});
