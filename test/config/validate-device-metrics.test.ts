// Device names that Linux and an `ip -batch` line both take whole, and a metrics address that stays on loopback: config errors (exit 78), with their paths.
import { describe, expect, it } from 'vitest';
import { configOrThrow, parseConfigText } from '../../src/config/load.js';
import { validateConfig } from '../../src/config/validate.js';
import { MwanError } from '../../src/model/errors.js';

const withDevice = (device: string) => ({
  interfaces: { wan1: { device: 'wan1', gateway: '198.51.100.1' }, wan2: { device, gateway: '198.51.100.9' } },
  policies: { p: { members: [{ interface: 'wan1' }, { interface: 'wan2' }] } },
});
const withListen = (listen: string) => ({ ...withDevice('wan2'), globals: { metrics: { listen } } });

const issues = (config: unknown) => {
  const r = validateConfig(config);
  return r.ok ? [] : r.issues;
};

describe('interface device names', () => {
  it.each([
    ['a comment character (ip -batch would cut "dev wan#1" to "dev wan")', 'wan#1'],
    ['a space', 'wan 1'],
    ['a tab', 'wan\t1'],
    ['a double quote', 'wan"1'],
    ['a single quote', "wan'1"],
    ['a backslash', 'wan\\1'],
    ['a slash', 'wan/1'],
    ['a colon (an alias, not a device)', 'wan:1'],
    ['a control character', 'wan\u00011'],
    ['a non-ASCII letter', 'wän'],
    ['the name "."', '.'],
    ['the name ".."', '..'],
    ['16 characters', 'abcdefghijklmnop'],
    ['nothing', ''],
  ])('refuses a device name with %s at /interfaces/wan2/device', (_what, device) => {
    const found = issues(withDevice(device));
    expect(found).toContainEqual({
      path: '/interfaces/wan2/device',
      message: expect.stringMatching(/is not valid \(Linux network device: at most 15 characters/),
    });
  });

  it.each(['eth0', 'eth0.2', 'pppoe-wan', 'br-lan', 'wg0@peer', 'wan_1', 'abcdefghijklmno', '...'])('accepts the device name %s', (device) => {
    expect(issues(withDevice(device))).toEqual([]);
  });
});

describe('globals.metrics.listen', () => {
  it.each([
    ['a routable address', '192.0.2.1:9523', /"192\.0\.2\.1" is not a loopback address/],
    ['every address', '0.0.0.0:9523', /"0\.0\.0\.0" is not a loopback address/],
    ['every IPv6 address', '[::]:9523', /"::" is not a loopback address/],
    ['a name', 'localhost:9523', /"localhost" is not an IP address/],
    ['no port', '127.0.0.1', /expected host:port/],
    ['a port above 65535', '127.0.0.1:70000', /port 70000 is not between 0 and 65535/],
    ['port 0', '127.0.0.1:0', /port 0 would be a new random port/],
  ])('refuses %s at /globals/metrics/listen', (_what, listen, message) => {
    expect(issues(withListen(listen))).toEqual([{ path: '/globals/metrics/listen', message: expect.stringMatching(message) }]);
  });

  it.each(['127.0.0.1:9523', '127.0.0.53:9100', '[::1]:9523'])('accepts %s', (listen) => {
    expect(issues(withListen(listen))).toEqual([]);
  });

  it('is a config error with exit status 78, as `check` and `apply` load it', () => {
    const text = JSON.stringify(withListen('0.0.0.0:9523'));
    let error: unknown;
    try {
      configOrThrow(parseConfigText('/etc/nft-mwan/config.json', text));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MwanError);
    expect((error as MwanError).code).toBe('CONFIG_INVALID');
    expect((error as MwanError).exitStatus).toBe(78);
    expect((error as MwanError).message).toMatch(/\/globals\/metrics\/listen: "0\.0\.0\.0:9523": "0\.0\.0\.0" is not a loopback address/);
  });
});
