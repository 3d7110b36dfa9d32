// Whether an installed table is nft-mwan's: it carries the owner marker (or, made by an older version, the interface id map).
import { MwanError } from '../model/errors.js';
import type { NftObject } from '../model/json.js';
import { IDS_MAP, OWNER_SET } from '../model/names.js';

/** nft 1.0.6 neither takes nor lists a table comment in JSON: the mark is an empty set every plan declares. */
export function ownsTable(listing: readonly NftObject[] | null): boolean {
  if (listing === null) return true;
  return listing.some((i) => (i.set as NftObject | undefined)?.name === OWNER_SET || (i.map as NftObject | undefined)?.name === IDS_MAP);
}

/** Refuses to replace or delete a table someone else made (a firewall's `fw4`, named in globals.table). */
export function assertOwned(listing: readonly NftObject[] | null, table: string): void {
  if (ownsTable(listing)) return;
  throw new MwanError({
    code: 'TABLE_NOT_OWNED',
    summary:
      `table inet ${table} exists and was not made by nft-mwan (it has no set ${OWNER_SET}); refusing to replace or delete it. ` +
      `Choose another globals.table, or delete that table yourself if it is a leftover`,
  });
}
