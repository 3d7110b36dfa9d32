// ip -batch lines built from plans: exact syntax, and values that could break a batch line are refused.
import { describe, expect, it } from 'vitest';
import { routeArgs, ruleArgs } from '../../src/system/ip.js';

describe('ip rule and route arguments', () => {
  it.each([
    [
      { family: 4, priority: 1000, fwmark: 0x100, fwmask: 0x3f00, action: 'lookup', table: 'main', suppressPrefixLength: 0, protocol: 77 },
      'priority 1000 fwmark 0x100/0x3f00 lookup main suppress_prefixlength 0 protocol 77',
    ],
    [
      { family: 4, priority: 1001, fwmark: 0x200, fwmask: 0x3f00, action: 'lookup', table: 1002, protocol: 77 },
      'priority 1001 fwmark 0x200/0x3f00 lookup 1002 protocol 77',
    ],
    [
      { family: 4, priority: 1002, fwmark: 0x3e00, fwmask: 0x3f00, action: 'blackhole', protocol: 77 },
      'priority 1002 fwmark 0x3e00/0x3f00 blackhole protocol 77',
    ],
  ] as const)('writes %j as "%s"', (rule, line) => {
    expect(ruleArgs(rule).join(' ')).toBe(line);
  });

  it('writes a route with and without a gateway', () => {
    expect(routeArgs({ family: 4, table: 1001, dst: 'default', gateway: '198.51.100.1', dev: 'wan1', protocol: 77 }).join(' ')).toBe(
      'default via 198.51.100.1 dev wan1 table 1001 proto 77',
    );
    expect(routeArgs({ family: 4, table: 1003, dst: 'default', dev: 'ppp0', protocol: 77 }).join(' ')).toBe('default dev ppp0 table 1003 proto 77');
  });

  it.each([
    ['would start a second batch command', 'wan1\nrule flush'],
    ['would be cut at a comment (dev wan#1 becomes dev wan)', 'wan#1'],
    ['holds a space', 'wan 1'],
    ['holds a double quote', 'wan"1'],
    ['holds a single quote', "wan'1"],
    ['holds a backslash', 'wan\\1'],
    ['holds a control character', 'wan\u00011'],
  ])('refuses a device name that %s', (_what, dev) => {
    expect(() => routeArgs({ family: 4, table: 1001, dst: 'default', dev, protocol: 77 })).toThrow(/refusing to pass .* to ip -batch/);
  });

  it('refuses a rule table name with a comment character', () => {
    expect(() => ruleArgs({ family: 4, priority: 1000, action: 'lookup', table: 'main#x', protocol: 77 })).toThrow(/refusing to pass "main#x" to ip -batch/);
  });

  it('passes device names Linux uses as they are', () => {
    for (const dev of ['eth0.2', 'pppoe-wan', 'br-lan', 'wg0@x', 'wan_1']) {
      expect(routeArgs({ family: 4, table: 1001, dst: 'default', dev, protocol: 77 })).toContain(dev);
    }
  });
});
