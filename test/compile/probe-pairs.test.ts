// The probe-pair set for host-name targets, through compile: declared and accepted in output only when a WAN
// probes a name with tcp/http/dns, a dynamic set (the daemon's pairs never fail verification nor force a full
// apply), and deleted as stale once no WAN needs it.
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { incrementalBatch } from '../../src/compile/incremental.js';
import { diffPlan } from '../../src/compile/verify.js';
import { tableFacts } from '../../src/engine/discover.js';
import { EMPTY_FACTS } from '../../src/model/facts.js';
import { PROBE_PAIRS_SET } from '../../src/model/names.js';
import type { NftBatch } from '../../src/model/plan.js';
import { listingOf, resolved } from './fixtures.js';

type Obj = Record<string, unknown>;

const configWith = (targets: string[], method = 'tcp') =>
  resolved({
    interfaces: {
      wan1: { device: 'eth1', gateway: '192.0.2.1', track: { method, targets } },
      wan2: { device: 'eth2', gateway: '198.51.100.1' },
    },
    policies: { p: { members: [{ interface: 'wan1' }, { interface: 'wan2' }] } },
    rules: [{ name: 'all', policy: 'p' }],
  });

const facts = { ...EMPTY_FACTS, addresses: { wan1: '192.0.2.10', wan2: '198.51.100.10' } };

const setsDeclared = (b: NftBatch) => b.nftables.flatMap((c) => (((c.add as Obj | undefined)?.set as Obj | undefined)?.name as string | undefined) ?? []);
const outputRules = (b: NftBatch) =>
  b.nftables.flatMap((c) => {
    const r = (c.add as Obj | undefined)?.rule as Obj | undefined;
    return r?.chain === 'output' ? [JSON.stringify(r.expr)] : [];
  });

describe('compile: the probe-pair set', () => {
  it.each([
    ['tcp name:port', ['www.example.net:443'], 'tcp', true],
    ['an http URL with a name', ['http://www.example.net/'], 'http', true],
    ['a dns server by name', ['ns1.example.net'], 'dns', true],
    ['ping names (marked by the WAN mark)', ['one.one.one.one'], 'ping', false],
    ['tcp addresses only', ['203.0.113.5:443'], 'tcp', false],
  ])('%s: declared and matched in output -> %s', (_what, targets, method, want) => {
    const plan = compile(configWith(targets, method), facts);
    expect(setsDeclared(plan.nft).includes(PROBE_PAIRS_SET)).toBe(want);
    expect(outputRules(plan.nft).some((r) => r.includes(`"@${PROBE_PAIRS_SET}"`))).toBe(want);
    expect(plan.dynamicSets.includes(PROBE_PAIRS_SET)).toBe(want);
  });

  it('keeps the address targets as compiled pairs beside it', () => {
    const plan = compile(configWith(['203.0.113.5:443', 'www.example.net:443']), facts);
    const pairs = outputRules(plan.nft).filter((r) => r.includes('"concat"'));
    expect(pairs).toHaveLength(2);
    expect(pairs[0]).toContain('"192.0.2.10","203.0.113.5"');
    expect(pairs.join('\n')).not.toContain('www.example.net');
  });

  it("the daemon's pairs in the live set: verification passes, an unchanged plan re-sends nothing", () => {
    const plan = compile(configWith(['www.example.net:443']), facts);
    const listing = listingOf(plan.nft);
    const set = listing.find((i) => (i.set as Obj | undefined)?.name === PROBE_PAIRS_SET)?.set as Obj;
    set.elem = [{ elem: { val: { concat: ['192.0.2.10', '203.0.113.77'] }, timeout: 6, expires: 5 } }];
    expect(diffPlan(plan, listing)).toEqual([]);
    const again = compile(configWith(['www.example.net:443']), { ...facts, ...tableFacts(listing) });
    expect(incrementalBatch(again, listing)).toEqual({ nftables: [] });
  });

  it('once no WAN probes a name, the set is stale and deleted', () => {
    const before = listingOf(compile(configWith(['www.example.net:443']), facts).nft);
    const after = compile(configWith(['203.0.113.5:443']), { ...facts, ...tableFacts(before) });
    expect(after.nft.nftables).toContainEqual({ delete: { set: { family: 'inet', table: after.table.name, name: PROBE_PAIRS_SET } } });
  });
});
