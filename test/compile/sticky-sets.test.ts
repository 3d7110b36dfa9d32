// Sticky sets across applies: an installed set is kept as it is (its entries survive), one whose WAN is offline
// is flushed (its sources are balanced afresh when the WAN returns), one whose type or timeout changed is replaced.
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { EMPTY_FACTS, type LinkStates, type SystemFacts } from '../../src/model/facts.js';
import { validateConfig } from '../../src/config/validate.js';
import type { ResolvedConfig } from '../../src/config/resolved.js';

function config(rule: Record<string, unknown> = {}, family: 'ipv4' | 'both' = 'ipv4'): ResolvedConfig {
  const c = {
    interfaces: { wan1: { device: 'eth1', family }, wan2: { device: 'eth2', family } },
    policies: { balanced: { members: [{ interface: 'wan1' }, { interface: 'wan2' }] } },
    rules: [{ name: 'web', proto: 'tcp', destPort: [443], policy: 'balanced', sticky: true, stickyTimeout: 600, ...rule }],
  };
  const v = validateConfig(c);
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return v.config;
}

type Cmd = Record<string, Record<string, Record<string, unknown>>>;

/** The commands of a plan that touch one named set, as [verb, details] (add/flush/delete of the set itself). */
function setCommands(plan: ReturnType<typeof compile>, name: string): [string, Record<string, unknown>][] {
  return (plan.nft.nftables as Cmd[]).flatMap((cmd) =>
    Object.entries(cmd).flatMap(([verb, body]) => {
      const set = body.set;
      return set !== undefined && set.name === name ? [[verb, set] as [string, Record<string, unknown>]] : [];
    }),
  );
}

const installed = (sets: Record<string, { type: unknown; timeout: number | null }>): SystemFacts => ({
  ...EMPTY_FACTS,
  installed: { chains: [], sets: Object.keys(sets), maps: [] },
  installedSets: sets,
});

const V4 = { type: 'ipv4_addr', timeout: 600 };

describe('sticky sets on re-apply', () => {
  it.each<[string, LinkStates, string[]]>([
    ['both WANs online: neither set is flushed', {}, []],
    ["wan2 offline: only wan2's set is flushed", { wan2: 'offline' }, ['sticky_web_wan2']],
    ["wan1 down (device gone): only wan1's set is flushed", { wan1: 'down' }, ['sticky_web_wan1']],
    ['both offline: both are flushed', { wan1: 'offline', wan2: 'offline' }, ['sticky_web_wan1', 'sticky_web_wan2']],
  ])('%s', (_name, states, flushed) => {
    const plan = compile(config(), installed({ sticky_web_wan1: V4, sticky_web_wan2: V4 }), states);
    for (const name of ['sticky_web_wan1', 'sticky_web_wan2']) {
      const cmds = setCommands(plan, name);
      // Installed with the same type and timeout: never re-added (nft 1.0.6 cannot re-add a dynamic set), never deleted.
      expect(cmds.map(([verb]) => verb)).toEqual(flushed.includes(name) ? ['flush'] : []);
      if (flushed.includes(name)) expect(cmds[0]?.[1]).toEqual({ family: 'inet', table: 'nft_mwan', name });
    }
  });

  it("an offline WAN's set that is not installed yet is created, not flushed", () => {
    const plan = compile(config(), installed({ sticky_web_wan1: V4 }), { wan2: 'offline' });
    expect(setCommands(plan, 'sticky_web_wan2').map(([verb]) => verb)).toEqual(['add']);
    expect(setCommands(plan, 'sticky_web_wan1')).toEqual([]);
  });

  it("a changed timeout replaces the set (delete, add), and an offline WAN's replaced set needs no flush", () => {
    const plan = compile(config({ stickyTimeout: 30 }), installed({ sticky_web_wan1: V4, sticky_web_wan2: V4 }), { wan2: 'offline' });
    for (const name of ['sticky_web_wan1', 'sticky_web_wan2']) {
      const cmds = setCommands(plan, name);
      expect(cmds.map(([verb]) => verb)).toEqual(['delete', 'add']);
      expect(cmds[1]?.[1]).toMatchObject({ type: 'ipv4_addr', flags: ['timeout'], timeout: 30 });
    }
  });

  it('sticky by source and destination: the concatenated type compares equal, so only the offline set is flushed', () => {
    const pair = { type: ['ipv4_addr', 'ipv4_addr'], timeout: 600 };
    const plan = compile(config({ stickyBy: 'srcdst' }), installed({ sticky_web_wan1: pair, sticky_web_wan2: pair }), { wan1: 'offline' });
    expect(setCommands(plan, 'sticky_web_wan1').map(([verb]) => verb)).toEqual(['flush']);
    expect(setCommands(plan, 'sticky_web_wan2')).toEqual([]);
    // The installed type was a single address: the set is replaced, not flushed.
    const changed = compile(config({ stickyBy: 'srcdst' }), installed({ sticky_web_wan1: V4, sticky_web_wan2: V4 }), { wan1: 'offline' });
    expect(setCommands(changed, 'sticky_web_wan1').map(([verb]) => verb)).toEqual(['delete', 'add']);
  });

  it("dual stack: an offline WAN's IPv4 and IPv6 sets are flushed, the online WAN's of both families kept", () => {
    const V6 = { type: 'ipv6_addr', timeout: 600 };
    const facts = installed({ sticky_web_wan1: V4, sticky_web_wan2: V4, sticky6_web_wan1: V6, sticky6_web_wan2: V6 });
    const plan = compile(config({}, 'both'), facts, { wan1: 'offline' });
    expect(setCommands(plan, 'sticky_web_wan1').map(([verb]) => verb)).toEqual(['flush']);
    expect(setCommands(plan, 'sticky6_web_wan1').map(([verb]) => verb)).toEqual(['flush']);
    expect(setCommands(plan, 'sticky_web_wan2')).toEqual([]);
    expect(setCommands(plan, 'sticky6_web_wan2')).toEqual([]);
  });
});
