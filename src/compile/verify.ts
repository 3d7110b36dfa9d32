// Compares the table nft lists back with the batch that was applied, ignoring what nft adds or reorders.
import type { NftBatch, Plan } from '../model/plan.js';
import { PROTOCOL_NUMBERS } from '../model/protocols.js';
import type { NftObject } from '../model/json.js';

/**
 * One rule as applied or listed: its JSON as it stands, and (computed only when that differs from the
 * other side's) the canonical form. nft lists nearly every rule back exactly as it was sent, so most
 * comparisons never canonicalise, which matters for a 1,000-element verdict map in a short-lived CLI.
 */
export class RuleImage {
  readonly raw: string;
  private key: string | undefined;

  constructor(private readonly rule: NftObject) {
    this.raw = `${exprText(rule.expr)}\u0000${JSON.stringify(rule.comment ?? null)}`;
  }

  /** Canonical JSON, with l4proto matches as numbers. */
  canonical(): string {
    // The keys sorted: comment, then expr (as canonical({expr, comment}) writes them).
    if (this.key !== undefined) return this.key;
    const comment = canonical(this.rule.comment ?? null);
    this.key = this.rule.expr === undefined ? `{"comment":${comment}}` : `{"comment":${comment},"expr":${exprCanonical(this.rule.expr)}}`;
    return this.key;
  }

  same(other: RuleImage | undefined): boolean {
    return other !== undefined && (other.raw === this.raw || other.canonical() === this.canonical());
  }
}

/**
 * A frozen statement list is one compile shares between plans (the classify tail): its JSON is kept, so a
 * daemon's state change does not serialise a 1,000-element verdict map again for every comparison.
 */
const frozenExprText = new WeakMap<object, string>();
function exprText(expr: unknown): string {
  if (expr === null || typeof expr !== 'object' || !Object.isFrozen(expr)) return JSON.stringify(expr);
  let text = frozenExprText.get(expr);
  if (text === undefined) frozenExprText.set(expr, (text = JSON.stringify(expr)));
  return text;
}

/**
 * The same for the canonical form. Within one plan its batch's image is kept (batchImages); this serves the next
 * plans: the classify tail is kept from compile to compile, so a daemon's state change, a new plan and batch,
 * does not canonicalise its 1,000-element verdict map again when the listing does not read back as sent.
 */
const frozenExprCanonical = new WeakMap<object, string>();
function exprCanonical(expr: unknown): string {
  if (expr === null || typeof expr !== 'object' || !Object.isFrozen(expr)) return canonical(normaliseProtocols(expr));
  let text = frozenExprCanonical.get(expr);
  if (text === undefined) frozenExprCanonical.set(expr, (text = canonical(normaliseProtocols(expr))));
  return text;
}

/** One table's content in a comparable form: chains with their rules, sets and maps with elements. */
export interface TableImage {
  chains: Record<string, { spec: Record<string, unknown>; rules: RuleImage[] }>;
  sets: Record<string, { spec: Record<string, unknown>; elements: string[] }>;
}

const CHAIN_SPEC_KEYS = ['type', 'hook', 'prio', 'policy'] as const;
const SET_SPEC_KEYS = ['type', 'map', 'flags', 'timeout'] as const;

function pick(o: NftObject, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    let v = o[k];
    // Up to nft 1.1.4 a single flag is listed as a string, later as an array.
    if (k === 'flags' && typeof v === 'string') v = [v];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** Canonical JSON: object keys sorted, anonymous set members sorted (nft may reorder them). */
export function canonical(value: unknown): string {
  // Built as a string in one pass with plain loops: a large verdict map is compared on every apply, cold.
  if (value === null || typeof value !== 'object') {
    // JSON.stringify is typed `string`, but returns undefined for undefined, a function or a symbol.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) {
    const parts: string[] = [];
    for (const v of value as unknown[]) parts.push(canonical(v));
    return `[${parts.join(',')}]`;
  }
  const o = value as NftObject;
  const keys = Object.keys(o);
  if (keys.length > 1) keys.sort();
  const parts: string[] = [];
  for (const k of keys) {
    const v = o[k];
    if (v === undefined) continue;
    parts.push(`${JSON.stringify(k)}:${k === 'set' && Array.isArray(v) ? sortedMembers(v) : canonical(v)}`);
  }
  return `{${parts.join(',')}}`;
}

function sortedMembers(members: readonly unknown[]): string {
  const texts: string[] = [];
  for (const m of members) texts.push(canonical(m));
  // Without a comparator: strings sort by their UTF-16 code units, natively (a JS comparator costs a call per comparison).
  return `[${texts.sort().join(',')}]`;
}

/**
 * nft lists a protocol number by its /etc/protocols name when it has one (`meta l4proto 47` comes back
 * as "gre"): both sides are compared as numbers.
 */
function protocolNumber(v: unknown): unknown {
  if (typeof v === 'string' && v in PROTOCOL_NUMBERS) return PROTOCOL_NUMBERS[v];
  if (v !== null && typeof v === 'object' && Array.isArray((v as NftObject).set)) return { set: ((v as NftObject).set as unknown[]).map(protocolNumber) };
  return v;
}

/** The same value with l4proto matches as numbers; untouched parts are shared, not copied. */
function normaliseProtocols(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      const n = normaliseProtocols(v);
      if (n !== v) (out ??= [...(value as unknown[])])[i] = n;
    }
    return out ?? value;
  }
  const o = value as NftObject;
  const m = o.match as NftObject | undefined;
  if (m && (m.left as NftObject | undefined)?.meta !== undefined && ((m.left as NftObject).meta as NftObject).key === 'l4proto') {
    return { ...o, match: { ...m, right: protocolNumber(m.right) } };
  }
  let out: NftObject | undefined;
  for (const k of Object.keys(o)) {
    const v = o[k];
    const n = normaliseProtocols(v);
    if (n !== v) (out ??= { ...o })[k] = n;
  }
  return out ?? o;
}

/**
 * A plan's batch is never changed once compiled either: an apply images it for the incremental batch, then
 * again for the read-back, so its image is kept with it.
 */
const batchImages = new WeakMap<NftBatch, { tableName: string; img: TableImage }>();

/** What the batch leaves in the table (it starts with add+flush, so earlier content does not matter). */
export function imageOfBatch(batch: NftBatch, tableName: string): TableImage {
  const kept = batchImages.get(batch);
  if (kept?.tableName === tableName) return kept.img;
  const img = buildBatchImage(batch, tableName);
  batchImages.set(batch, { tableName, img });
  return img;
}

function buildBatchImage(batch: NftBatch, tableName: string): TableImage {
  const img: TableImage = { chains: {}, sets: {} };
  for (const cmd of batch.nftables) {
    const [verb, body] = Object.entries(cmd)[0] as [string, NftObject];
    const [kind, o] = Object.entries(body)[0] as [string, NftObject];
    if (o.table !== tableName && kind !== 'table') continue;
    const name = o.name as string;
    if (verb === 'add' && kind === 'chain') img.chains[name] = { spec: pick(o, CHAIN_SPEC_KEYS), rules: [] };
    else if (verb === 'add' && (kind === 'set' || kind === 'map')) {
      img.sets[name] = { spec: { kind, ...pick(o, SET_SPEC_KEYS) }, elements: ((o.elem as unknown[] | undefined) ?? []).map(canonical) };
    } else if (verb === 'flush' && (kind === 'set' || kind === 'map')) {
      const s = img.sets[name];
      if (s) s.elements = [];
    } else if (verb === 'add' && kind === 'element') {
      img.sets[name]?.elements.push(...((o.elem as unknown[] | undefined) ?? []).map(canonical));
    } else if (verb === 'add' && kind === 'rule') {
      img.chains[o.chain as string]?.rules.push(new RuleImage(o));
    }
  }
  return img;
}

/**
 * Listings are never changed once read: the image of one is kept with it, so the daemon's next apply, which
 * plans against the listing its last apply verified, does not image it a second time.
 */
const listingImages = new WeakMap<readonly NftObject[], TableImage>();

/** The same image from `nft -j list table` output. */
export function imageOfListing(listing: readonly NftObject[]): TableImage {
  let img = listingImages.get(listing);
  if (img === undefined) listingImages.set(listing, (img = buildListingImage(listing)));
  return img;
}

function buildListingImage(listing: readonly NftObject[]): TableImage {
  const img: TableImage = { chains: {}, sets: {} };
  for (const item of listing) {
    const [kind, o] = Object.entries(item)[0] as [string, NftObject];
    if (kind === 'chain') img.chains[o.name as string] = { spec: pick(o, CHAIN_SPEC_KEYS), rules: [] };
    if (kind === 'set' || kind === 'map') {
      img.sets[o.name as string] = {
        spec: { kind, ...pick(o, SET_SPEC_KEYS) },
        elements: ((o.elem as unknown[] | undefined) ?? []).map((e) => canonical(elementValue(e))),
      };
    }
  }
  // Rules after chains: 1.0.6 lists sets first, 1.1+ chains first; rules always follow their chain.
  for (const item of listing) {
    const [kind, o] = Object.entries(item)[0] as [string, NftObject];
    if (kind === 'rule') img.chains[o.chain as string]?.rules.push(new RuleImage(o));
  }
  return img;
}

/** Elements of timeout sets list as {elem: {val, timeout, expires}}: compare the value. */
function elementValue(e: unknown): unknown {
  if (e !== null && typeof e === 'object' && 'elem' in e) return ((e as NftObject).elem as NftObject).val;
  return e;
}

export interface DiffOptions {
  /** Sets others fill at run time: the planned elements must be there, more are fine. */
  subsetSets?: ReadonlySet<string>;
  /** Sets whose content is state, not configuration (sticky entries): not compared at all. */
  ignoreSets?: ReadonlySet<string>;
}

/** Human-readable differences, empty when the table is what was planned. */
export function diffImages(expected: TableImage, actual: TableImage, o: DiffOptions = {}): string[] {
  const out: string[] = [];
  for (const [name, c] of Object.entries(expected.chains)) {
    const a = actual.chains[name];
    if (!a) {
      out.push(`chain ${name} is missing`);
      continue;
    }
    if (canonical(c.spec) !== canonical(a.spec)) out.push(`chain ${name}: expected ${canonical(c.spec)}, found ${canonical(a.spec)}`);
    const n = Math.max(c.rules.length, a.rules.length);
    for (let i = 0; i < n; i++) {
      const want = c.rules[i];
      const got = a.rules[i];
      if (want === undefined || !want.same(got)) {
        out.push(`chain ${name} rule ${i}: expected ${want?.canonical() ?? '(none)'}, found ${got?.canonical() ?? '(none)'}`);
      }
    }
  }
  for (const name of Object.keys(actual.chains)) if (!expected.chains[name]) out.push(`unexpected chain ${name}`);
  for (const [name, s] of Object.entries(expected.sets)) {
    if (o.ignoreSets?.has(name)) continue;
    const a = actual.sets[name];
    if (!a) {
      out.push(`set ${name} is missing`);
      continue;
    }
    if (canonical(s.spec) !== canonical(a.spec)) out.push(`set ${name}: expected ${canonical(s.spec)}, found ${canonical(a.spec)}`);
    if (o.subsetSets?.has(name)) {
      const present = new Set(a.elements);
      const missing = s.elements.filter((e) => !present.has(e));
      if (missing.length > 0) out.push(`set ${name}: missing elements ${missing.join(' ')}`);
    } else if (s.elements.length !== a.elements.length || [...s.elements].sort().join('\n') !== [...a.elements].sort().join('\n')) {
      out.push(`set ${name}: expected elements ${s.elements.join(' ')}, found ${a.elements.join(' ')}`);
    }
  }
  for (const name of Object.keys(actual.sets)) if (!expected.sets[name] && !o.ignoreSets?.has(name)) out.push(`unexpected set ${name}`);
  return out;
}

/** The differences between a plan's table and a listing of the installed one. */
export function diffPlan(plan: Pick<Plan, 'nft' | 'table' | 'dynamicSets' | 'stickySets'>, listing: readonly NftObject[]): string[] {
  return diffImages(imageOfBatch(plan.nft, plan.table.name), imageOfListing(listing), {
    subsetSets: new Set(plan.dynamicSets),
    ignoreSets: new Set(plan.stickySets),
  });
}

/**
 * A listing with some chains listed afresh: `listing` with those chains and their rules replaced by the
 * ones in `fresh` (`nft -j list chain` output). Its image is the old one with those chains re-imaged, so a
 * 1,000-rule chain that was not listed again is not imaged again either.
 */
export function spliceChains(listing: readonly NftObject[], fresh: readonly NftObject[]): NftObject[] {
  const names = new Set(fresh.flatMap((i) => ('chain' in i ? [String((i.chain as NftObject).name)] : [])));
  const kept = listing.filter((i) => {
    const chain = (i.chain as NftObject | undefined)?.name ?? (i.rule as NftObject | undefined)?.chain;
    // A chain name in nft's JSON is a string; String() only makes the unknown-typed value one for the lookup.
    // eslint-disable-next-line @typescript-eslint/no-base-to-string
    return chain === undefined || !names.has(String(chain));
  });
  const out = [...kept, ...fresh];
  const old = imageOfListing(listing);
  const chains = Object.fromEntries(Object.entries(old.chains).filter(([n]) => !names.has(n)));
  listingImages.set(out, { chains: { ...chains, ...buildListingImage(fresh).chains }, sets: old.sets });
  return out;
}
