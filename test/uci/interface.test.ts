// One mwan3 interface section as an nft-mwan interface: flush events mapped, unknown ones noted, a merged wan6 noted.
import { describe, expect, it } from 'vitest';
import { flushEvents, mapInterface, mergeNotes } from '../../src/uci/interface.js';
import { parseUci, sectionId } from '../../src/uci/parse.js';

function sections(text: string) {
  return parseUci(text, '/etc/config/mwan3');
}

function collect() {
  const notes: string[] = [];
  return { notes, note: (where: string, text: string) => notes.push(`${where}: ${text}`) };
}

describe('flushEvents', () => {
  it.each([
    [['ifdown'], ['offline']],
    [['disconnected'], ['offline']],
    [
      ['ifup', 'connected'],
      ['online', 'online'],
    ],
    [
      ['ifdown', 'never', 'ifup'],
      ['offline', 'online'],
    ],
    [[], []],
  ])('maps flush_conntrack %j to %j', (values, events) => {
    const [s] = sections(`config interface 'wan'\n${values.map((v) => `\tlist flush_conntrack '${v}'\n`).join('')}`);
    expect(flushEvents(s!)).toEqual(events);
  });
});

describe('mapInterface', () => {
  it('keeps the known flush events once each and notes the unknown ones', () => {
    const [s] = sections(
      "config interface 'wan'\n\toption enabled '1'\n\tlist flush_conntrack 'ifdown'\n\tlist flush_conntrack 'disconnected'\n\tlist flush_conntrack 'never'\n",
    );
    const { notes, note } = collect();
    const iface = mapInterface(s!, 'wan', 'eth1', 'ipv4', note);
    expect(iface).toMatchObject({ device: 'eth1', gateway: 'auto', flushConntrack: ['offline'] });
    expect(notes).toContain('interface wan.flush_conntrack: never: not ifup, ifdown, connected or disconnected: ignored');
  });
});

describe('mergeNotes', () => {
  it("notes the wan6's own targets, its flush events merged and its unknown ones, under uci's names", () => {
    const [v4, v6] = sections(
      "config interface 'wan'\n\toption enabled '1'\n\tlist track_ip '192.0.2.1'\n\tlist flush_conntrack 'ifdown'\n" +
        "config interface\n\toption enabled '1'\n\toption family 'ipv6'\n\tlist track_ip '2001:db8::1'\n" +
        "\tlist flush_conntrack 'ifdown'\n\tlist flush_conntrack 'ifup'\n\tlist flush_conntrack 'bogus'\n",
    );
    const { notes, note } = collect();
    mergeNotes(v6!, v4!, note);
    expect(sectionId(v6!)).toBe('@interface[1]');
    expect(notes).toEqual([
      'interface @interface[1].track_ip: its IPv6 tracking becomes wan\'s "track6": IPv6 connections follow its own state, IPv4 ones wan\'s',
      'interface @interface[1].flush_conntrack: ifup merged into wan: the dual-stack interface deletes its own connections of both families on that event',
      'interface @interface[1].flush_conntrack: bogus: not ifup, ifdown, connected or disconnected: ignored',
    ]);
  });
});
