// Incremental batches: only the changed chains are re-sent, and the table they leave is the full plan's.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { EMPTY_FACTS, type LinkStates, type SystemFacts } from '../../src/model/facts.js';
import { tableFacts } from '../../src/engine/discover.js';
import { incrementalBatch } from '../../src/compile/incremental.js';
import type { NftBatch, Plan } from '../../src/model/plan.js';
import { diffPlan } from '../../src/compile/verify.js';
import { validateConfig } from '../../src/config/validate.js';
import type { NftMwanConfig } from '../../src/generated/config.js';
import { listingOf } from './fixtures.js';

type Obj = Record<string, unknown>;

const golden = (c: string, f: string) => JSON.parse(readFileSync(new URL(`../golden/${c}/${f}`, import.meta.url), 'utf8')) as unknown;

function configOf(c: string): NftMwanConfig {
  const v = validateConfig(golden(c, 'config.json'));
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return v.config;
}

/** A kernel stand-in for the few commands an incremental batch holds. */
function applyTo(listing: Obj[], b: NftBatch): Obj[] {
  let out = listing.map((i) => structuredClone(i));
  let handle = 10_000;
  for (const cmd of b.nftables) {
    const [verb, body] = Object.entries(cmd)[0] as [string, Obj];
    const [kind, o] = Object.entries(body)[0] as [string, Obj];
    if (verb === 'flush' && kind === 'chain') out = out.filter((i) => (i.rule as Obj | undefined)?.chain !== o.name);
    else if (verb === 'flush' && kind === 'set') delete ((out.find((i) => (i.set as Obj | undefined)?.name === o.name) as Obj).set as Obj).elem;
    else if (verb === 'add' && kind === 'rule') out.push({ rule: { ...o, handle: handle++ } });
    else throw new Error(`an incremental batch should not hold ${verb} ${kind}`);
  }
  return out;
}

function installedFacts(facts: SystemFacts, listing: Obj[]): SystemFacts {
  return { ...facts, ...tableFacts(listing) };
}

/** Installs the config at `from`, then plans `to` against what is installed. */
function step(c: string, from: LinkStates, to: LinkStates, edit?: (cfg: NftMwanConfig) => void): { listing: Obj[]; plan: Plan } {
  const cfg = configOf(c);
  const facts = factsOf(c);
  const listing = listingOf(compile(cfg, facts, from).nft);
  edit?.(cfg);
  return { listing, plan: compile(cfg, installedFacts(facts, listing), to) };
}

function factsOf(c: string): SystemFacts {
  return existsSync(new URL(`../golden/${c}/facts.json`, import.meta.url)) ? (golden(c, 'facts.json') as SystemFacts) : EMPTY_FACTS;
}

const chainsFlushed = (b: NftBatch) => b.nftables.flatMap((c) => (((c.flush as Obj | undefined)?.chain as Obj | undefined)?.name as string | undefined) ?? []);

describe('incremental batches', () => {
  it.each([
    ['issue-example', {}, { wan2: 'offline' }],
    ['three-wans-weights', {}, { dsl: 'offline' }],
    ['failover-tiers', { wan1: 'offline' }, {}],
    ['dual-stack', {}, { wan2: 'offline' }],
  ] as [string, LinkStates, LinkStates][])('%s: a WAN state change re-sends only the changed chains, and leaves the full plan', (c, from, to) => {
    const { listing, plan } = step(c, from, to);
    const b = incrementalBatch(plan, listing);
    expect(b).not.toBeNull();
    const flushed = chainsFlushed(b as NftBatch);
    expect(flushed.length).toBeGreaterThan(0);
    expect(flushed.every((n) => n.startsWith('policy_') || n.startsWith('sticky_'))).toBe(true);
    expect((b as NftBatch).nftables.length).toBeLessThan(plan.nft.nftables.length / 3);
    expect(diffPlan(plan, applyTo(listing, b as NftBatch))).toEqual([]);
    // The check is not vacuous: without the batch the listing is still the old plan.
    expect(diffPlan(plan, listing)).not.toEqual([]);
  });

  it("an offline WAN's sticky sets are emptied in the same batch, an online WAN's are not", () => {
    const cfg = configOf('sticky-sets-modes');
    const facts = factsOf('sticky-sets-modes');
    const listing = listingOf(compile(cfg, facts, {}).nft);
    const plan = compile(cfg, installedFacts(facts, listing), { wan2: 'offline' });
    const b = incrementalBatch(plan, listing) as NftBatch;
    const setsFlushed = b.nftables.flatMap((x) => (((x.flush as Obj | undefined)?.set as Obj | undefined)?.name as string | undefined) ?? []);
    expect(setsFlushed.length).toBeGreaterThan(0);
    expect(setsFlushed.every((n) => n.endsWith('_wan2'))).toBe(true);
    expect(diffPlan(plan, applyTo(listing, b))).toEqual([]);
  });

  it.each([
    [
      'a new interface (chains, counters and routing tables to add)',
      (cfg: NftMwanConfig) => {
        cfg.interfaces.wan3 = { device: 'wan3', gateway: '198.51.100.17' };
      },
    ],
    [
      'a new bypass network (set elements)',
      (cfg: NftMwanConfig) => {
        cfg.globals = { ...cfg.globals, bypass: ['10.99.0.0/16'] };
      },
    ],
  ])('falls back to the full batch for %s', (_what, edit) => {
    const { listing, plan } = step('issue-example', {}, {}, edit);
    expect(incrementalBatch(plan, listing)).toBeNull();
  });

  it('is empty when nothing changed', () => {
    const { listing, plan } = step('issue-example', {}, {});
    expect(incrementalBatch(plan, listing)).toEqual({ nftables: [] });
  });
});
