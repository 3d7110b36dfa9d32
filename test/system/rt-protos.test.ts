// Route protocols as iproute2 prints them (`proto dhcp`) are read back as their numbers.
import { describe, expect, it } from 'vitest';
import { readRules } from '../../src/system/ip.js';
import { protocolHasName, protocolNumber } from '../../src/system/rt-protos.js';
import type { Runner } from '../../src/system/runner.js';

describe('route protocol names', () => {
  it.each([
    ['dhcp', 16],
    ['static', 4],
    ['16', 16],
    ['0x4d', 77],
    [77, 77],
  ] as const)('reads %j as %d', (printed, n) => {
    expect(protocolNumber(printed)).toBe(n);
  });

  it('knows no number for a name nobody defined', () => {
    expect(protocolNumber('no-such-protocol')).toBeUndefined();
  });

  it('tells a named number (16, dhcp) from an unnamed one (77, the default)', () => {
    expect(protocolHasName(16)).toBe(true);
    expect(protocolHasName(77)).toBe(false);
  });

  it('reads a rule iproute2 printed with `proto dhcp` as protocol 16', async () => {
    const printed = [{ priority: 1001, src: 'all', fwmark: '0x100', fwmask: '0xff00', table: '1001', protocol: 'dhcp' }];
    const run: Runner = () => Promise.resolve({ stdout: JSON.stringify(printed), stderr: '', exitCode: 0 });
    const [rule] = await readRules(run, 4);
    expect(rule).toMatchObject({ priority: 1001, fwmark: 0x100, table: 1001, protocol: 16, action: 'lookup' });
  });
});
