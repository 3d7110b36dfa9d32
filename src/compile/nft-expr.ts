// Builders for the libnftables JSON objects nft-mwan emits (forms verified on nft 1.0.6).
import type { NftCommand } from '../model/plan.js';
import type { Ipv4Element, PortRange } from '../model/net.js';

export type Expr = unknown;
export type Stmt = Record<string, unknown>;

export const meta = (key: string): Expr => ({ meta: { key } });
export const ct = (key: string): Expr => ({ ct: { key } });
export const payload = (protocol: string, field: string): Expr => ({ payload: { protocol, field } });
export const and = (left: Expr, right: Expr): Expr => ({ '&': [left, right] });
export const or = (left: Expr, right: Expr): Expr => ({ '|': [left, right] });

export const match = (op: '==' | '!=' | 'in', left: Expr, right: Expr): Stmt => ({ match: { op, left, right } });
export const accept: Stmt = { accept: null };
export const goTo = (target: string): Stmt => ({ goto: { target } });
export const mangle = (key: Expr, value: Expr): Stmt => ({ mangle: { key, value } });

/** `key vmap { k: verdict, ... }` with an anonymous map. */
export const vmap = (key: Expr, entries: [Expr, Stmt][]): Stmt => ({ vmap: { key, data: { set: entries } } });

/**
 * `x & ~mask | value` for a 32-bit mark: keeps the bits outside the mask, sets ours to `value`.
 * Written in the folded form nft itself lists (`x & (~mask | value) | value`, or just `x | value` when
 * that AND keeps every bit), so the table reads back exactly as emitted.
 */
export function setMarkBits(key: Expr, mask: number, value: number): Stmt {
  const keep = (~mask | value) >>> 0;
  return mangle(key, keep === 0xffffffff ? or(key, value) : or(and(key, keep), value));
}

export function addrElement(e: Ipv4Element): Expr {
  switch (e.kind) {
    case 'addr':
      return e.addr;
    case 'prefix':
      return { prefix: { addr: e.addr, len: e.len } };
    case 'range':
      return { range: [e.from, e.to] };
  }
}

/** A single element stays bare; several become an anonymous set (nft adds the interval flag itself). */
export function oneOrSet(items: Expr[]): Expr {
  return items.length === 1 ? items[0] : { set: items };
}

export function portElement(p: PortRange): Expr {
  return p.first === p.last ? p.first : { range: [p.first, p.last] };
}

export interface ChainSpec {
  name: string;
  base?: { type: 'filter' | 'route' | 'nat'; hook: string; prio: number; policy: 'accept' };
}

export function addTable(family: string, name: string): NftCommand {
  return { add: { table: { family, name } } };
}

export function addChain(family: string, table: string, spec: ChainSpec): NftCommand {
  return { add: { chain: { family, table, name: spec.name, ...(spec.base ?? {}) } } };
}

export function addRule(family: string, table: string, chain: string, expr: Stmt[], comment?: string): NftCommand {
  return { add: { rule: { family, table, chain, expr, ...(comment ? { comment } : {}) } } };
}
