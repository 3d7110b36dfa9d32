// A table is nft-mwan's when it carries the owner mark (or an older version's id map); any other is refused.
import { describe, expect, it } from 'vitest';
import { assertOwned, ownsTable } from '../../src/engine/ownership.js';
import type { NftObject } from '../../src/model/json.js';

const table: NftObject = { table: { family: 'inet', name: 'fw4', handle: 1 } };
const set = (name: string): NftObject => ({ set: { family: 'inet', table: 'fw4', name, type: 'mark', handle: 2 } });
const map = (name: string): NftObject => ({ map: { family: 'inet', table: 'fw4', name, type: 'ifname', map: 'mark', handle: 3 } });

describe('table ownership', () => {
  it.each([
    ['no table at all', null, true],
    ['a table with the owner mark', [table, set('managed_by_nft_mwan')], true],
    ["an older nft-mwan's table (its interface_ids map)", [table, map('interface_ids')], true],
    ["a firewall's table", [table, set('lan_hosts'), { chain: { family: 'inet', table: 'fw4', name: 'input' } }], false],
    ['an empty table someone created', [table], false],
  ] as const)('%s: owned %s', (_what, listing, owned) => {
    expect(ownsTable(listing as NftObject[] | null)).toBe(owned);
  });

  it('refuses a foreign table with TABLE_NOT_OWNED, naming it', () => {
    expect(() => {
      assertOwned([table], 'fw4');
    }).toThrow(expect.objectContaining({ code: 'TABLE_NOT_OWNED', message: expect.stringMatching(/table inet fw4 exists and was not made by nft-mwan/) }));
  });
});
