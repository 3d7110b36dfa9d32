// What `apply --print` shows: the nft batch and the routing plan, with every packet and conntrack mark in hex
// (as status, the config and `nft list` show them), so a mark can be found by eye in all of them.
import { hex } from '../model/marks.js';
import type { Plan } from '../model/plan.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const isMarkExpr = (node: Json): boolean => {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return false;
  const inner = node.meta ?? node.ct;
  return inner !== undefined && inner !== null && typeof inner === 'object' && !Array.isArray(inner) && inner.key === 'mark';
};

/** Whether `node` is or holds a mark expression (a `ct mark & 0xff00` on the left of a match, say). */
const hasMark = (node: Json): boolean => isMarkExpr(node) || (node !== null && typeof node === 'object' && Object.values(node).some((child) => hasMark(child)));

/** Every number in `node` in hex: they are all mark values or masks once `node` is a mark's operand. */
const allHex = (node: Json): Json => {
  if (typeof node === 'number') return hex(node);
  if (Array.isArray(node)) return node.map(allHex);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, allHex(v)]));
};

/** Marks in hex in one nft JSON statement or expression: match and mangle operands, and binary operations on a mark. */
function hexMarks(node: Json): Json {
  if (Array.isArray(node)) return node.some(isMarkExpr) ? allHex(node) : node.map(hexMarks);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, Json> = {};
  for (const [key, value] of Object.entries(node)) {
    if ((key === 'match' || key === 'mangle') && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const target = value.left ?? value.key ?? null;
      out[key] = hasMark(target) ? allHex(value) : hexMarks(value);
    } else out[key] = hexMarks(value);
  }
  return out;
}

const MARK_FIELDS = new Set(['fwmark', 'mask', 'mark', 'markMask']);

/** The routing plan with its fwmark values and masks in hex. */
function hexRouting(node: Json): Json {
  if (Array.isArray(node)) return node.map(hexRouting);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, MARK_FIELDS.has(k) && typeof v === 'number' ? hex(v) : hexRouting(v)]));
}

export function printPlan(p: Plan): string {
  const json = (v: unknown) => JSON.parse(JSON.stringify(v)) as Json;
  return JSON.stringify({ nftables: hexMarks(json(p.nft.nftables)), routing: hexRouting(json(p.routing)), warnings: p.warnings }, null, 2);
}
