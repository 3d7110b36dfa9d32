// The apply and daemon benchmarks' pure helpers: the daemon's timing lines, /proc status, the unit's environment,
// the printed plan's batch and the ratios to the floor.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { batchOfPrint, floorRatios } from '../../scripts/bench/apply-floor.js';
import { decisionTimes, residentMb, unitEnvironment } from '../../scripts/bench/statechange.js';

describe('decisionTimes', () => {
  it('reads the time after the state change from each timed line, and skips the lines without one', () => {
    const log = [
      'nft-mwan: info: states applied in 265 ms: wan1=online',
      'nft-mwan: info: wan1: online -> offline (ifdown by operator)',
      'nft-mwan: info: states applied in 18 ms, 19.5 ms after the state change: wan1=offline',
      'nft-mwan: info: states applied in 21 ms, 23.25 ms after the state change: wan1=online',
    ].join('\n');
    expect(decisionTimes(log)).toEqual([19.5, 23.25]);
  });
});

describe('residentMb', () => {
  it('gives VmRSS in MB', () => {
    expect(residentMb('Name:\tnode\nVmHWM:\t  90000 kB\nVmRSS:\t   73728 kB\nThreads:\t7\n')).toBe(72);
  });
  it('refuses a status without VmRSS (a kernel thread, an exited process)', () => {
    expect(() => residentMb('Name:\tkthreadd\n')).toThrow(/VmRSS/);
  });
});

describe('batchOfPrint', () => {
  it('keeps the nftables array of `apply --print` and nothing else', () => {
    const printed = JSON.stringify({ nftables: [{ add: { table: { family: 'inet', name: 't' } } }], routing: { rules: [] }, warnings: ['w'] });
    expect(JSON.parse(batchOfPrint(printed))).toEqual({ nftables: [{ add: { table: { family: 'inet', name: 't' } } }] });
  });
  it('refuses output without a batch', () => {
    expect(() => batchOfPrint('{"routing":{}}')).toThrow(/nftables/);
  });
});

describe('floorRatios', () => {
  it('divides each apply by the floor of its own round (node + nft)', () => {
    expect(floorRatios([150, 200], [50, 60], [25, 40])).toEqual([2, 2]);
  });
});

describe('unitEnvironment', () => {
  it.each([
    ['one quoted whole', 'Environment="NODE_OPTIONS=--a=1 --b=2"\n', { NODE_OPTIONS: '--a=1 --b=2' }],
    [
      'two lines, unquoted words',
      'Environment=MALLOC_ARENA_MAX=1 LC_ALL=C\nExecStart=/x\nEnvironment="A=b c"\n',
      { MALLOC_ARENA_MAX: '1', LC_ALL: 'C', A: 'b c' },
    ],
    ['none', 'ExecStart=/x\n', {}],
  ])('reads %s', (_name, unit, env) => {
    expect(unitEnvironment(unit)).toEqual(env);
  });

  it("reads the shipped unit's V8 flags and arena limit", () => {
    const env = unitEnvironment(readFileSync(new URL('../../contrib/nft-mwan.service', import.meta.url), 'utf8'));
    expect(env.NODE_OPTIONS).toMatch(/--max-semi-space-size=\d+/);
    expect(env.MALLOC_ARENA_MAX).toMatch(/^\d+$/);
  });
});
