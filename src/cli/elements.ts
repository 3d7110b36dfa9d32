// Set elements of an nft JSON listing as people write them: 192.0.2.1, 192.0.2.0/24, 192.0.2.1-192.0.2.9.
import type { NftObject } from '../model/json.js';

/** One element as listed: an address, a prefix, a range, or a timeout set's {elem: {val, expires}} (its value). */
export function elementText(e: unknown): string {
  if (e === null || typeof e !== 'object') return String(e);
  const o = e as { prefix?: { addr: string; len: number }; range?: unknown[]; elem?: { val: unknown } };
  if (o.prefix) return `${o.prefix.addr}/${o.prefix.len}`;
  if (o.range) return o.range.map(elementText).join('-');
  if (o.elem) return elementText(o.elem.val);
  return JSON.stringify(e);
}

/** Seconds until a timeout set's element expires, or null for an element that does not. */
export function expiresIn(e: unknown): number | null {
  const expires = (e as { elem?: { expires?: unknown } } | null)?.elem?.expires;
  return typeof expires === 'number' ? expires : null;
}

/** The elements of set `name` in a listing, or null when the listing holds no such set. */
export function setElements(listing: readonly NftObject[] | null, name: string): string[] | null {
  const set = listing?.map((o) => o.set as { name?: unknown; elem?: unknown[] } | undefined).find((s) => s?.name === name);
  return set ? (set.elem ?? []).map(elementText) : null;
}
