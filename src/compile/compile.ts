// compile(config, facts, states) -> Plan: the nft batch and routing state for one moment, stage by stage. Pure.
import type { ResolvedConfig } from '../config/resolved.js';
import { EMPTY_FACTS, type LinkStates, type SystemFacts } from '../model/facts.js';
import { markLayout } from '../model/marks.js';
import { probePairSetName, TABLE_FAMILY as FAMILY } from '../model/names.js';
import type { Plan } from '../model/plan.js';
import { bypassTexts } from './bypass.js';
import { Chains } from './chain-collector.js';
import { BASE_CHAINS, classifyHead, hookRules, markTargets, probePairs, probePairSetCommands, probePairSets, targetChainRules } from './chains.js';
import { classifyRules } from './classify.js';
import { has6 } from './family.js';
import { planInterfaces } from './interfaces.js';
import { natRules } from './nat.js';
import {
  bypassSetCommands,
  counterCommands,
  counterNames,
  idsMapCommands,
  ownerMarkCommands,
  namedSetCommands,
  plannedSets,
  staleDeletes,
  stickySetCommands,
  tableCommands,
} from './objects.js';
import { planPolicies, policyChainRules } from './policies.js';
import { planRouting } from './routing.js';
import { planSticky, stickyChainRules } from './sticky.js';

// `explain` lists the bypass sets' contents as compile fills them.
export { bypassTexts };

export function compile(config: ResolvedConfig, facts: SystemFacts = EMPTY_FACTS, states: LinkStates = {}): Plan {
  const g = config.globals;
  const table = g.table;
  const layout = markLayout(g.markMask);

  // What the moment looks like: interfaces, policies per family, sticky rules.
  const { interfaces, warnings } = planInterfaces(config, facts, states, layout);
  if (interfaces.length === 0) warnings.push("no interfaces: nothing is balanced (every connection keeps the main table, or its rule's special policy)");
  const byName = new Map(interfaces.map((i) => [i.name, i]));
  const enabled = interfaces.filter((i) => i.enabled);
  // IPv6 is classified with an IPv6 WAN, or (ipv6WithoutWan "lastResort") to give every policy's last resort without one.
  const v6 = enabled.some(has6) || g.ipv6WithoutWan === 'lastResort';
  const policies = planPolicies(config, byName, 'ipv4');
  const policies6 = v6 ? planPolicies(config, byName, 'ipv6') : [];
  const sticky = planSticky(config, policies, byName);

  // The chains, in the order the batch declares them (by first use after the base chains).
  const chains = new Chains(table);
  for (const { name, base } of BASE_CHAINS) chains.base(name, base);
  const targets = markTargets(enabled, layout);
  chains.add(targetChainRules(targets, layout));
  const pairSets = probePairSets(config, enabled);
  chains.add(
    hookRules({
      targets,
      enabled,
      layout,
      v6,
      gidBase: g.useGidBase,
      probePairs: probePairs(config, enabled),
      probePairs6: probePairs(config, enabled, 'ipv6'),
      probePairSets: pairSets,
    }),
  );
  chains.add(classifyHead(v6));
  chains.add(classifyRules(config));
  chains.add(stickyChainRules({ sticky, policies, policies6, byName, v6 }));
  chains.add(policyChainRules(policies, policies6));
  chains.add(natRules(config, enabled));

  // The batch: the table emptied, stale objects deleted, objects declared, the rules last (they name the objects).
  const counters = counterNames(enabled);
  const planned = { chains: chains.names(), sets: [...plannedSets(v6, config.sets, sticky.sets), ...pairSets.map(probePairSetName)], counters };
  const commands = [
    ...tableCommands(table),
    ...staleDeletes(table, facts.installed, planned),
    ...counterCommands(table, counters),
    ...chains.chainCommands(),
    ...bypassSetCommands(table, bypassTexts(config, facts), v6),
    ...namedSetCommands(table, config.sets),
    ...stickySetCommands(table, sticky.sets, facts.installedSets),
    ...probePairSetCommands(table, pairSets),
    ...idsMapCommands(table, interfaces),
    ...ownerMarkCommands(table),
    ...chains.ruleCommands(),
  ];

  return {
    table: { family: FAMILY, name: table },
    markMask: layout.mask,
    nft: { nftables: commands },
    routing: planRouting(enabled, layout, { priority: g.rulePriority, protocol: g.routeProtocol, v6 }),
    interfaces,
    policies,
    policies6,
    warnings,
    // The probe pairs are the daemon's to add, like the config's sets are others' to fill.
    dynamicSets: [...Object.keys(config.sets), ...pairSets.map(probePairSetName)],
    stickySets: sticky.sets.map((st) => st.name),
  };
}
