// The table's objects besides chains: stale deletes, counters, bypass/named/sticky sets and the interface id map.
import type { ResolvedSet } from '../config/resolved.js';
import type { SystemFacts } from '../model/facts.js';
import { BYPASS_SET, BYPASS_SET6, counterName, IDS_MAP, OWNER_SET, TABLE_FAMILY as FAMILY, type Family } from '../model/names.js';
import type { NftCommand, PlannedInterface } from '../model/plan.js';
import { addressElements } from './bypass.js';
import type { StickySet } from './sticky.js';

const ref = (table: string, name: string) => ({ family: FAMILY, table, name });

export function tableCommands(table: string): NftCommand[] {
  return [{ add: { table: { family: FAMILY, name: table } } }, { flush: { table: { family: FAMILY, name: table } } }];
}

/** What the plan declares, by kind: anything else installed is stale. */
export interface PlannedObjects {
  chains: readonly string[];
  sets: readonly string[];
  counters: readonly string[];
}

/** The sets a plan declares: bypass (IPv6 only with a WAN that carries it), the config's named sets, the sticky sets. */
export function plannedSets(v6: boolean, sets: Readonly<Record<string, ResolvedSet>>, sticky: readonly StickySet[]): string[] {
  return [BYPASS_SET, ...(v6 ? [BYPASS_SET6] : []), ...Object.keys(sets), ...sticky.map((st) => st.name)];
}

/** Two counters per enabled WAN: received from it, sent to it. */
export function counterNames(enabled: readonly PlannedInterface[]): string[] {
  return enabled.flatMap((i) => (['rx', 'tx'] as const).map((d) => counterName(d, i.name)));
}

/**
 * Stale objects from an older config go in the same transaction, after the flush emptied their users.
 * Every map but the id map is stale: the plan declares no other.
 */
export function staleDeletes(table: string, installed: SystemFacts['installed'], planned: PlannedObjects): NftCommand[] {
  const commands: NftCommand[] = [];
  const chains = new Set(planned.chains);
  for (const name of installed?.chains ?? []) {
    if (!chains.has(name)) commands.push({ delete: { chain: ref(table, name) } });
  }
  for (const name of installed?.maps ?? []) {
    if (name !== IDS_MAP) commands.push({ delete: { map: ref(table, name) } });
  }
  const sets = new Set(planned.sets);
  for (const name of installed?.sets ?? []) {
    if (!sets.has(name) && name !== OWNER_SET) commands.push({ delete: { set: ref(table, name) } });
  }
  for (const name of installed?.counters ?? []) {
    if (!planned.counters.includes(name)) commands.push({ delete: { counter: ref(table, name) } });
  }
  return commands;
}

/** `add` keeps an existing counter's values: re-applies and failovers do not reset the accounting. */
export function counterCommands(table: string, counters: readonly string[]): NftCommand[] {
  return counters.map((name) => ({ add: { counter: ref(table, name) } }));
}

/** The bypass sets, emptied and refilled: IPv6's only with a WAN that carries it. */
export function bypassSetCommands(table: string, texts: readonly string[], v6: boolean): NftCommand[] {
  const commands: NftCommand[] = [];
  const kinds: [string, Family, string][] = [[BYPASS_SET, 'ipv4', 'ipv4_addr']];
  if (v6) kinds.push([BYPASS_SET6, 'ipv6', 'ipv6_addr']);
  for (const [name, family, type] of kinds) {
    const setRef = ref(table, name);
    commands.push({ add: { set: { ...setRef, type, flags: ['interval'] } } }, { flush: { set: setRef } });
    const elements = addressElements(family, texts);
    if (elements.length > 0) commands.push({ add: { element: { ...setRef, elem: elements } } });
  }
  return commands;
}

/** Named sets: re-declared as they are (an existing set keeps the elements others added), config elements added. */
export function namedSetCommands(table: string, sets: Readonly<Record<string, ResolvedSet>>): NftCommand[] {
  return Object.entries(sets).flatMap(([name, set]) => {
    const setRef = ref(table, name);
    const flags = set.timeout ? ['interval', 'timeout'] : ['interval'];
    const commands: NftCommand[] = [{ add: { set: { ...setRef, type: set.type, flags, ...(set.timeout ? { timeout: set.timeout } : {}) } } }];
    const elements = addressElements(set.type === 'ipv6_addr' ? 'ipv6' : 'ipv4', set.elements);
    if (elements.length > 0) commands.push({ add: { element: { ...setRef, elem: elements } } });
    return commands;
  });
}

/**
 * Sticky sets: nft marks a timeout set "dynamic" once a rule updates it, and 1.0.6 has no JSON for that
 * flag, so an existing one is left as it is (re-adding would fail); a changed one is replaced.
 */
export function stickySetCommands(table: string, sets: readonly StickySet[], installedSets: SystemFacts['installedSets']): NftCommand[] {
  const commands: NftCommand[] = [];
  for (const st of sets) {
    const setRef = ref(table, st.name);
    const installed = installedSets?.[st.name];
    const same = installed !== undefined && installed.timeout === st.timeout && JSON.stringify(installed.type) === JSON.stringify(st.type);
    if (installed !== undefined && !same) commands.push({ delete: { set: setRef } });
    if (!same) commands.push({ add: { set: { ...setRef, type: st.type, flags: ['timeout'], timeout: st.timeout } } });
    // An offline WAN's entries go: when it returns, its sources are balanced afresh.
    if (!st.online && installed !== undefined && same) commands.push({ flush: { set: setRef } });
  }
  return commands;
}

/** An empty set marks the table as nft-mwan's, so a foreign one is never replaced (nft 1.0.6 JSON has no table comment). */
export function ownerMarkCommands(table: string): NftCommand[] {
  return [{ add: { set: { ...ref(table, OWNER_SET), type: 'mark' } } }];
}

/** The id allocation lives in the table itself, so what is installed describes itself. */
export function idsMapCommands(table: string, interfaces: readonly PlannedInterface[]): NftCommand[] {
  const mapRef = ref(table, IDS_MAP);
  return [
    { add: { map: { ...mapRef, type: 'ifname', map: 'mark' } } },
    { flush: { map: mapRef } },
    // nft refuses an element command with no element: a config without interfaces leaves the map empty.
    ...(interfaces.length > 0 ? [{ add: { element: { ...mapRef, elem: interfaces.map((i) => [i.name, i.id]) } } }] : []),
  ];
}
