// Parsed JSON before its fields are checked: one name for the objects of nft and ip listings.

/** A JSON object as parsed (ip -j output, a state file), before its fields are checked. */
export type JsonObject = Record<string, unknown>;

/** One object of a libnftables JSON listing or batch: {table: ...}, {chain: ...}, {set: ...}, {rule: ...}. */
export type NftObject = JsonObject;
