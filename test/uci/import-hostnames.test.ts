// Host names in real mwan3 configs' track_ip (mwan3track hands them to ping/httping as they are): imported as
// targets, each WAN still tracked by them, with one note per interface saying how the lookup differs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { validateConfig } from '../../src/config/validate.js';
import { EMPTY_FACTS } from '../../src/model/facts.js';
import { PROBE_PAIRS_SET } from '../../src/model/names.js';
import { importMwan3 } from '../../src/uci/import.js';
import { parseUci } from '../../src/uci/parse.js';

const load = (name: string, devices: Record<string, string>) =>
  importMwan3(parseUci(readFileSync(new URL(`./fixtures/real/${name}/mwan3`, import.meta.url), 'utf8'), `${name}/mwan3`), { devices });

const lookupNote = (iface: string, names: string) =>
  `interface ${iface}.track_ip: ${names}: looked up at every round through the router's resolver (IPv4 address), the probe then sent ` +
  "through this WAN; mwan3's probe tool sends its own lookup through the WAN under test. A name that does not resolve is a missed probe";

describe('import-uci: host names in real configs are tracked, not dropped', () => {
  it.each([
    {
      name: 'irfan-hostname-httping',
      devices: { wan: 'eth1', tethering: 'eth2', HP1: 'eth3', wan2: 'eth4' },
      // Its only target: without names, wan was imported untracked.
      tracks: { wan: { method: 'http', targets: ['https://google.com/'] } },
      notes: [lookupNote('wan', 'google.com')],
      pairSet: true,
    },
    {
      name: 'leonzdev-5-tethers',
      devices: { tether0: 'eth1', tether1: 'eth2', tether2: 'eth3', tether3: 'eth4', tether4: 'eth5' },
      tracks: Object.fromEntries(
        ['tether0', 'tether1', 'tether2', 'tether3', 'tether4'].map((t) => [
          t,
          { method: 'http', targets: ['https://8.8.8.8/', 'https://cloudflarestatus.com/'] },
        ]),
      ),
      notes: [lookupNote('tether0', 'cloudflarestatus.com'), lookupNote('tether4', 'cloudflarestatus.com')],
      pairSet: true,
    },
    {
      name: 'skyearn-dup-member-baidu',
      devices: { wan6: 'eth2', wanb: 'eth1', wanb6: 'eth1', wan: 'eth2' },
      tracks: { wan: { method: 'ping', targets: ['www.baidu.com', '114.114.114.114', '119.29.29.29'] } },
      notes: [lookupNote('wan', 'www.baidu.com')],
      pairSet: false,
    },
    {
      name: 'aromalct-6wan-baidu',
      devices: { wan2: 'eth1', vwan1: 'eth2', vwan2: 'eth3', vwan3: 'eth4', vwan4: 'eth5' },
      tracks: Object.fromEntries(
        ['wan2', 'vwan1', 'vwan2', 'vwan3', 'vwan4'].map((t) => [t, { method: 'ping', targets: ['www.baidu.com', '114.114.114.114', '119.29.29.29'] }]),
      ),
      notes: [lookupNote('wan2', 'www.baidu.com'), lookupNote('vwan4', 'www.baidu.com')],
      pairSet: false,
    },
  ])('$name', ({ name, devices, tracks, notes: expected, pairSet }) => {
    const { config, notes } = load(name, devices);
    for (const [iface, track] of Object.entries(tracks)) expect(config.interfaces[iface]?.track).toMatchObject(track);
    for (const n of expected) expect(notes).toContain(n);
    expect(notes.filter((n) => /dropped: (not an IPv4 address|neither)/.test(n))).toEqual([]);
    const v = validateConfig(config);
    expect(v.ok ? [] : v.issues).toEqual([]);
    if (!v.ok) return;
    // https probes to a name need the pair set; pings to one do not.
    const gateways = Object.fromEntries(Object.keys(config.interfaces).map((n) => [n, '198.51.100.1']));
    const plan = compile(v.config, {
      ...EMPTY_FACTS,
      autoGateways: gateways,
      autoGateways6: Object.fromEntries(Object.keys(gateways).map((n) => [n, 'fe80::1'])),
    });
    expect(plan.dynamicSets.includes(PROBE_PAIRS_SET)).toBe(pairSet);
  });
});
