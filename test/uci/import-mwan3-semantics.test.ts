// import-uci keeps what mwan3 2.12's scripts do with the corner cases real configs hold (mwan3.sh, mwan3track).
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/validate.js';
import { importMwan3 } from '../../src/uci/import.js';
import { parseUci } from '../../src/uci/parse.js';

const WANS = "config interface 'wan'\n\toption enabled '1'\nconfig interface 'wanb'\n\toption enabled '1'\n";
const imp = (body: string) => {
  const r = importMwan3(parseUci(WANS + body, 'm'), { devices: { wan: 'eth1', wanb: 'eth2' } });
  const v = validateConfig(r.config);
  expect(v.ok ? [] : v.issues).toEqual([]);
  return r;
};
const member = (name: string, iface: string, metric: number, weight: number) =>
  `config member '${name}'\n\toption interface '${iface}'\n\toption metric '${String(metric)}'\n\toption weight '${String(weight)}'\n`;

describe('import-uci: mwan3 corner cases', () => {
  it.each([
    ['a contiguous dotted mask becomes a CIDR, host bits cleared as iptables does', '10.1.2.3/255.255.0.0', { srcIp: ['10.1.0.0/16'] }],
    ['a non-contiguous mask stays ADDR/MASK, the address masked', '0.0.0.3/0.0.0.1', { srcIp: ['0.0.0.1/0.0.0.1'] }],
    ['0.0.0.0/0.0.0.0 is any IPv4 source', '0.0.0.0/0.0.0.0', { family: 'ipv4' }],
  ])('%s', (_what, src, expected) => {
    const { config } = imp(
      `${member('m1', 'wan', 1, 1)}config policy 'p'\n\tlist use_member 'm1'\nconfig rule 'r'\n\toption src_ip '${src}'\n\toption use_policy 'p'\n`,
    );
    expect(config.rules?.[0]).toEqual({ name: 'r', policy: 'p', ...expected });
  });

  it("a WAN named twice at different metrics keeps only its lowest metric and that member's weight (mwan3 never uses the higher tier)", () => {
    const { config, notes } = imp(
      `${member('a', 'wan', 2, 5)}${member('b', 'wanb', 1, 1)}${member('c', 'wan', 1, 3)}config policy 'p'\n\tlist use_member 'a'\n\tlist use_member 'b'\n\tlist use_member 'c'\n`,
    );
    expect(config.policies.p?.members).toEqual([
      { interface: 'wan', metric: 1, weight: 3 },
      { interface: 'wanb', metric: 1, weight: 1 },
    ]);
    expect(notes).toContain('policy p: member c: wan is a member twice: only its lowest metric (1) counts, as in mwan3');
  });

  it('policies named default or blackhole are kept under free names; use_policy default / blackhole still mean the main table / the mark', () => {
    const { config, notes } = imp(
      `${member('m1', 'wan', 1, 1)}config policy 'default'\n\tlist use_member 'm1'\nconfig policy 'default_policy'\n\tlist use_member 'm1'\n` +
        "config policy 'blackhole'\n\tlist use_member 'm1'\nconfig rule 'r'\n\toption use_policy 'default'\nconfig rule 's'\n\toption use_policy 'blackhole'\n",
    );
    expect(Object.keys(config.policies).sort()).toEqual(['blackhole_policy', 'default_policy', 'default_policy_']);
    expect(config.rules?.map((r) => r.policy)).toEqual(['default', 'blackhole']);
    expect(
      notes.some((n) => n.startsWith('policy default: kept as "default_policy_": in mwan3 use_policy \'default\' always means the main routing table')),
    ).toBe(true);
    expect(notes.some((n) => n.startsWith('policy blackhole: kept as "blackhole_policy"'))).toBe(true);
  });

  it('an untracked WAN that starts offline is never brought online by mwan3: imported disabled', () => {
    const { config, notes } = imp("config interface 'wanb'\n\toption initial_state 'offline'\n");
    expect(config.interfaces.wanb?.enabled).toBe(false);
    expect(notes).toContain('interface wanb.initial_state: offline and not tracked: mwan3 never brings it online: imported as "enabled": false');
  });

  it('httping_ssl 1 probes https://, and unset timing gets mwan3track values with one note for every interface', () => {
    const body = "\tlist track_ip '192.0.2.10'\n\toption track_method 'httping'\n";
    const { config, notes } = imp(`config interface 'wan'\n${body}\toption httping_ssl '1'\nconfig interface 'wanb'\n${body}`);
    expect(config.interfaces.wan?.track?.targets).toEqual(['https://192.0.2.10/']);
    expect(config.interfaces.wanb?.track?.targets).toEqual(['http://192.0.2.10/']);
    expect(config.interfaces.wan?.track).toMatchObject({
      timeout: 4,
      interval: 10,
      failureInterval: 10,
      recoveryInterval: 10,
      down: 5,
      up: 5,
      count: 1,
      reliability: 1,
    });
    expect(notes.filter((n) => n.includes("written with mwan3's values"))).toHaveLength(1);
  });

  it('size 56 and max_ttl 60 (the defaults of ping and mwan3) say nothing; other values are noted', () => {
    const { notes } = imp(
      "config interface 'wan'\n\tlist track_ip '192.0.2.10'\n\toption size '56'\n\toption max_ttl '60'\nconfig interface 'wanb'\n\tlist track_ip '192.0.2.10'\n\toption size '100'\n",
    );
    expect(notes.filter((n) => n.includes('.size') || n.includes('.max_ttl'))).toEqual([
      "interface wanb.size: 100: not mapped: nft-mwan's probes send their own payload size",
    ]);
  });

  it('a rule named with over 15 characters is skipped, as mwan3 does not set it; a policy so named is noted', () => {
    const { config, notes } = imp(
      `${member('m1', 'wan', 1, 1)}config policy 'sixteen_chars_pp'\n\tlist use_member 'm1'\n` +
        "config rule 'sixteen_chars_rr'\n\toption use_policy 'sixteen_chars_pp'\nconfig rule 'short'\n\toption use_policy 'sixteen_chars_pp'\n",
    );
    expect(config.rules?.map((r) => r.name)).toEqual(['short']);
    expect(notes).toContain('rule sixteen_chars_rr: name over 15 characters (mwan3: "exceeds max of 15 chars. Not setting rule"): skipped, as mwan3 skips it');
    expect(notes.some((n) => n.startsWith('policy sixteen_chars_pp: over 15 characters: mwan3 builds no such policy'))).toBe(true);
  });

  it('members naming wan6 then wan of one merged pair stay one member (not a WAN twice): the IPv6 one is noted as dropped', () => {
    const r = importMwan3(
      parseUci(
        "config interface 'wan'\n\toption enabled '1'\nconfig interface 'wan6'\n\toption enabled '1'\n\toption family 'ipv6'\n" +
          `${member('m6', 'wan6', 1, 2)}${member('m4', 'wan', 1, 3)}config policy 'p'\n\tlist use_member 'm6'\n\tlist use_member 'm4'\n`,
        'm',
      ),
      { devices: { wan: 'eth1', wan6: 'eth1' } },
    );
    expect(r.config.policies.p?.members).toEqual([{ interface: 'wan', metric: 1, weight: 2 }]);
    expect(r.notes).toContain('policy p: member m4 (wan) dropped: wan is already a member (IPv4 and IPv6 of one uplink are one interface now)');
  });

  it('a rule whose policy falls back to the main table ("default" last resort) gives IPv6 nothing to change (no ipv6WithoutWan)', () => {
    const { notes } = imp(
      `${member('m1', 'wan', 1, 1)}config policy 'p'\n\tlist use_member 'm1'\n\toption last_resort 'default'\n` +
        `config policy 'q'\n\tlist use_member 'm1'\nconfig rule 'r'\n\toption use_policy 'p'\nconfig rule 's'\n\toption use_policy 'q'\n`,
    );
    expect(notes.filter((n) => n.includes('IPv6 as in mwan3'))).toEqual([expect.stringMatching(/^rule s: IPv6 as in mwan3/)]);
  });

  it('a proto or port list with spaces, which mwan3 writes unquoted into its failing iptables-restore batch, is noted as such', () => {
    const { config, notes } = imp(
      `${member('m1', 'wan', 1, 1)}config policy 'p'\n\tlist use_member 'm1'\n` +
        "config rule 'both'\n\toption proto 'tcp udp'\n\toption use_policy 'p'\n" +
        "config rule 'ports'\n\toption proto 'tcp'\n\toption dest_port '80 443'\n\toption use_policy 'p'\n" +
        "config rule 'commas'\n\toption proto 'tcp'\n\toption dest_port '80,443'\n\toption use_policy 'p'\n",
    );
    expect(config.rules?.map((r) => [r.name, r.destPort])).toEqual([
      ['ports', [80, 443]],
      ['commas', [80, 443]],
    ]);
    expect(notes.filter((n) => n.includes('refuses the whole batch')).map((n) => n.slice(0, n.indexOf(':')))).toEqual([
      'rule both.proto',
      'rule ports.dest_port',
    ]);
  });

  it('every import says once what differs whatever the config (ids, stop, one transaction)', () => {
    const { notes } = imp('');
    expect(notes.filter((n) => n.startsWith('every config: '))).toHaveLength(1);
  });

  it('no interface section: a config that balances nothing, valid, with a note', () => {
    const r = importMwan3(parseUci("config globals 'globals'\n\toption mmx_mask '0x3F00'\nconfig rule 'r'\n\toption use_policy 'unreachable'\n", 'm'));
    expect(r.config.interfaces).toEqual({});
    expect(r.config.rules).toEqual([{ name: 'r', policy: 'unreachable' }]);
    expect(r.config.globals?.ipv6WithoutWan).toBe('lastResort');
    expect(validateConfig(r.config).ok).toBe(true);
    expect(r.notes.some((n) => n.startsWith('interfaces: none: mwan3 balances nothing'))).toBe(true);
  });

  it('a rule whose use_policy names no policy section is skipped: mwan3 jumps to an empty chain and the next rules decide', () => {
    const { config, notes } = imp(
      `${member('m1', 'wan', 1, 1)}config policy 'p'\n\tlist use_member 'm1'\n` +
        "config rule 'typo'\n\toption use_policy 'balancd'\nconfig rule 'rest'\n\toption use_policy 'p'\n",
    );
    expect(config.rules?.map((r) => r.name)).toEqual(['rest']);
    expect(notes.some((n) => n.startsWith('rule typo: use_policy "balancd" is not a policy section') && n.endsWith('skipped, as mwan3 skips it'))).toBe(true);
  });
});
