// Set elements as nft -j lists them, written back as people type them (set list, explain, connected).
import { describe, expect, it } from 'vitest';
import { elementText, expiresIn, setElements } from '../../src/cli/elements.js';

describe('elementText', () => {
  it.each([
    ['an address', '192.0.2.1', '192.0.2.1'],
    ['an IPv6 address', '2001:db8::1', '2001:db8::1'],
    ['a number (a mark, a port)', 443, '443'],
    ['a prefix', { prefix: { addr: '198.51.100.0', len: 24 } }, '198.51.100.0/24'],
    ['a range', { range: ['203.0.113.5', '203.0.113.9'] }, '203.0.113.5-203.0.113.9'],
    ['a timeout set element, by its value', { elem: { val: '192.0.2.7', timeout: 600, expires: 512 } }, '192.0.2.7'],
    ['a timeout set element holding a prefix', { elem: { val: { prefix: { addr: '2001:db8::', len: 32 } }, expires: 3 } }, '2001:db8::/32'],
    ['anything else, as JSON', { concat: ['192.0.2.1', 80] }, '{"concat":["192.0.2.1",80]}'],
  ])('writes %s as it is typed', (_, element, text) => {
    expect(elementText(element)).toBe(text);
  });
});

describe('expiresIn', () => {
  it.each([
    ['a timeout set element', { elem: { val: '192.0.2.7', expires: 512 } }, 512],
    ['a timeout set element without expiry', { elem: { val: '192.0.2.7' } }, null],
    ['a plain address', '192.0.2.1', null],
    ['a prefix', { prefix: { addr: '198.51.100.0', len: 24 } }, null],
  ])('gives for %s the seconds left, or null', (_, element, seconds) => {
    expect(expiresIn(element)).toBe(seconds);
  });
});

describe('setElements', () => {
  const listing = [
    { table: { family: 'inet', name: 'nft_mwan' } },
    { set: { family: 'inet', table: 'nft_mwan', name: 'empty', type: 'ipv4_addr' } },
    { set: { family: 'inet', table: 'nft_mwan', name: 'vpn', type: 'ipv4_addr', elem: ['192.0.2.1', { prefix: { addr: '198.51.100.0', len: 24 } }] } },
  ];

  it('lists the elements of the set named', () => {
    expect(setElements(listing, 'vpn')).toEqual(['192.0.2.1', '198.51.100.0/24']);
  });

  it('gives no elements for a set that holds none', () => {
    expect(setElements(listing, 'empty')).toEqual([]);
  });

  it.each([
    ['the listing has no such set', listing],
    ['nothing is installed', null],
  ])('gives null when %s', (_, l) => {
    expect(setElements(l, 'missing')).toBeNull();
  });
});
