// What can never work is refused at check time with its JSON path: next hops no router has, the loopback device,
// a device name nft would read as a wildcard, an all-ones mark mask, probe timings fast enough to burn a core.
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/validate.js';

const base = () => ({
  interfaces: { wan1: { device: 'eth1', family: 'both' } as Record<string, unknown> },
  policies: { p: { members: [{ interface: 'wan1' }] } },
  globals: {} as Record<string, unknown>,
});

function issues(change: (c: ReturnType<typeof base>) => void): { path: string; message: string }[] {
  const c = base();
  change(c);
  const r = validateConfig(c);
  return r.ok ? [] : r.issues;
}

describe('refused: what can never work', () => {
  it.each<[string, (c: ReturnType<typeof base>) => void, string, RegExp]>([
    ['gateway 0.0.0.0', (c) => (c.interfaces.wan1.gateway = '0.0.0.0'), '/interfaces/wan1/gateway', /0\.0\.0\.0\/8/],
    ['gateway 255.255.255.255', (c) => (c.interfaces.wan1.gateway = '255.255.255.255'), '/interfaces/wan1/gateway', /broadcast/],
    ['gateway 224.0.0.1', (c) => (c.interfaces.wan1.gateway = '224.0.0.1'), '/interfaces/wan1/gateway', /multicast/],
    ['gateway 127.0.0.1', (c) => (c.interfaces.wan1.gateway = '127.0.0.1'), '/interfaces/wan1/gateway', /loopback/],
    ['gateway 240.0.0.1', (c) => (c.interfaces.wan1.gateway = '240.0.0.1'), '/interfaces/wan1/gateway', /reserved/],
    ['gateway6 ::', (c) => (c.interfaces.wan1.gateway6 = '::'), '/interfaces/wan1/gateway6', /unspecified/],
    ['gateway6 ::1', (c) => (c.interfaces.wan1.gateway6 = '::1'), '/interfaces/wan1/gateway6', /loopback/],
    ['gateway6 ff02::1', (c) => (c.interfaces.wan1.gateway6 = 'ff02::1'), '/interfaces/wan1/gateway6', /multicast/],
    ['device lo', (c) => (c.interfaces.wan1.device = 'lo'), '/interfaces/wan1/device', /loopback device lo/],
    ['device wan* (a wildcard to nft)', (c) => (c.interfaces.wan1.device = 'wan*'), '/interfaces/wan1/device', /wildcard/],
    ['markMask 0xffffffff (string)', (c) => (c.globals.markMask = '0xffffffff'), '/globals/markMask', /at least one bit out/],
    ['markMask 4294967295 (number)', (c) => (c.globals.markMask = 4294967295), '/globals/markMask', /./],
    ['track interval 0.0001', (c) => (c.interfaces.wan1.track = { targets: ['192.0.2.1'], interval: 0.0001 }), '/interfaces/wan1/track/interval', /0\.05/],
    ['track timeout 0.0001', (c) => (c.interfaces.wan1.track = { targets: ['192.0.2.1'], timeout: 0.0001 }), '/interfaces/wan1/track/timeout', /0\.05/],
    [
      'track failureInterval 0',
      (c) => (c.interfaces.wan1.track = { targets: ['192.0.2.1'], failureInterval: 0 }),
      '/interfaces/wan1/track/failureInterval',
      /0\.05/,
    ],
    ['a relative hooks path', (c) => (c.globals.hooks = 'relative/hooks'), '/globals/hooks', /not an absolute path/],
    ['a relative mwan3User', (c) => (c.globals.mwan3User = 'mwan3.user'), '/globals/mwan3User', /not an absolute path/],
    ['a relative metrics textfile', (c) => (c.globals.metrics = { textfile: 'x.prom' }), '/globals/metrics/textfile', /not an absolute path/],
    [
      'track recoveryInterval 0.01',
      (c) => (c.interfaces.wan1.track = { targets: ['192.0.2.1'], recoveryInterval: 0.01 }),
      '/interfaces/wan1/track/recoveryInterval',
      /0\.05/,
    ],
  ])('%s', (_what, change, path, message) => {
    const found = issues(change);
    expect(found.map((i) => i.path)).toContain(path);
    expect(found.find((i) => i.path === path)?.message).toMatch(message);
  });
});

describe('still accepted', () => {
  it.each<[string, (c: ReturnType<typeof base>) => void]>([
    ['a private gateway', (c) => (c.interfaces.wan1.gateway = '192.168.1.1')],
    ['a link-local IPv6 gateway', (c) => (c.interfaces.wan1.gateway6 = 'fe80::1')],
    ['gateway auto', (c) => (c.interfaces.wan1.gateway = 'auto')],
    ['a device with a dot and a dash', (c) => (c.interfaces.wan1.device = 'eth0.100-x')],
    ['a device named lo0 (not the loopback)', (c) => (c.interfaces.wan1.device = 'lo0')],
    ['markMask 0xfffffffe', (c) => (c.globals.markMask = '0xfffffffe')],
    ['track interval and timeout of 0.05 s', (c) => (c.interfaces.wan1.track = { targets: ['192.0.2.1'], interval: 0.05, timeout: 0.05 })],
  ])('%s', (_what, change) => {
    expect(issues(change)).toEqual([]);
  });
});
