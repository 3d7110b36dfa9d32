// Ablation benchmark (not a test): what each part of nft-mwan's NEW-connection path costs, measured by
// taking it out. nft-mwan is applied once in the lab's gateway (3 WANs, no user rules); its installed
// table is read back as JSON, and variants of it, each without one part, are loaded in its place, in
// turn, burst by burst, in an order rotated every round:
//   - complete: the table as nft-mwan installed it;
//   - no bypass: without the bypass-set rules in classify (connected networks, loopback, multicast and
//     the config's bypass are then balanced too);
//   - no inbound pinning: without prerouting's iifname map (connections from a WAN would be balanced);
//   - no counters: without the per-WAN counter statements;
//   - none of the three;
//   - mark-floor: the data-plane benchmark's floor ruleset (restore, numgen, save, masquerade).
// nft-mwan's ip rules and routes stay throughout, so the variants differ in their chains only. Every
// variant still forwards every SYN (checked on each burst). Each variant is read against the complete
// table in the same round, as a rate ratio and in CPU per packet under perf (profile.ts): so the
// figures say what each part costs, and how far the complete path is from the floor because of it.
//
//   node dist/scripts/bench/ablation.js [--rounds 10] [--seconds 2] [--json FILE]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BYPASS_SET, BYPASS_SET6 } from '../../src/model/names.js';
import { DEFAULTS } from '../../src/model/defaults.js';
import { type Lab, withLab } from '../../lab/netns.js';
import { buildMultiWan, type MultiWan } from '../../lab/topology.js';
import { markFloorTable, median, nftMwanConfig } from './dataplane.js';
import { PROFILE_PARTS, type PacketCost } from './profile.js';
import { installSynCounter, isMain, perfWorks, profileBurst, removeSynCounter, type SynFlood, timedBurst, writeTrafgenConfig } from './synflood.js';

export const ABLATION_PARTS = ['bypass', 'inbound', 'counters'] as const;
export type AblationPart = (typeof ABLATION_PARTS)[number];

export const PART_NAMES: Record<AblationPart, string> = {
  bypass: 'bypass set',
  inbound: 'inbound pinning',
  counters: 'per-WAN counters',
};

type Json = Record<string, unknown>;
/** One object of `nft -j list table`: {"rule": {...}}, {"chain": {...}}, ... */
type ListedObject = Record<string, Json>;

export interface AblationVariant {
  name: string;
  /** The parts of nft-mwan's table taken out (none for the complete table and for the floor). */
  removed: AblationPart[];
  /** The ruleset loaded into the gateway: a libnftables JSON batch, or nft's text (the floor). */
  ruleset: { json: unknown } | { text: string };
}

const contains = (node: unknown, test: (n: Json) => boolean): boolean =>
  Array.isArray(node)
    ? node.some((n) => contains(n, test))
    : typeof node === 'object' && node !== null && (test(node as Json) || Object.values(node).some((v) => contains(v, test)));

const isBypassMatch = (stmt: Json) => {
  const m = stmt.match as Json | undefined;
  return m !== undefined && (m.right === `@${BYPASS_SET}` || m.right === `@${BYPASS_SET6}`);
};
const isIifnameVmap = (stmt: Json) => {
  const v = stmt.vmap as Json | undefined;
  return v !== undefined && contains(v.key, (n) => (n.meta as Json | undefined)?.key === 'iifname');
};

/**
 * The listed table as a batch that creates it again (into a gateway whose ruleset was flushed), with `parts` taken out. Throws when a part is not where
 * the ablation expects it: then compile.ts changed and this benchmark must follow.
 */
export function withoutParts(listing: unknown, parts: readonly AblationPart[]): unknown {
  const objects = ((listing as { nftables?: ListedObject[] }).nftables ?? []).filter((o) => !('metainfo' in o));
  const table = objects.find((o) => 'table' in o)?.table;
  if (!table || table.name !== DEFAULTS.table) throw new Error(`the listing holds no table ${DEFAULTS.table}`);
  const found = new Set<AblationPart>();
  const out: ListedObject[] = [];
  for (const o of objects) {
    const [kind, body] = Object.entries(o)[0] as [string, Json];
    const { handle: _handle, ...rest } = body;
    if (kind !== 'rule') {
      out.push({ [kind]: rest });
      continue;
    }
    let expr = rest.expr as Json[];
    if (parts.includes('bypass') && rest.chain === 'classify' && expr.some(isBypassMatch)) {
      found.add('bypass');
      continue;
    }
    if (parts.includes('inbound') && rest.chain === 'prerouting' && expr.some(isIifnameVmap)) {
      found.add('inbound');
      continue;
    }
    if (parts.includes('counters') && expr.some((s) => 'counter' in s)) {
      found.add('counters');
      expr = expr.filter((s) => !('counter' in s));
    }
    out.push({ rule: { ...rest, expr } });
  }
  const missing = parts.filter((p) => !found.has(p));
  if (missing.length) throw new Error(`nft-mwan's table has no ${missing.map((p) => PART_NAMES[p]).join(', ')} where the ablation looks for it`);
  return { nftables: out.map((o) => ({ add: o })) };
}

/** The variants, in their fixed order: the complete table first (the reference), the floor last. */
export function ablationVariants(listing: unknown, floor: string): AblationVariant[] {
  const v = (name: string, removed: AblationPart[]): AblationVariant => ({ name, removed, ruleset: { json: withoutParts(listing, removed) } });
  return [
    v('complete', []),
    ...ABLATION_PARTS.map((p) => v(`no ${PART_NAMES[p]}`, [p])),
    v('none of the three', [...ABLATION_PARTS]),
    { name: 'mark-floor', removed: [], ruleset: { text: floor } },
  ];
}

export interface AblationRow {
  name: string;
  removed: AblationPart[];
  /** Per round: NEW connections per second (delivered SYNs over trafgen's sending time). */
  pps: number[];
  /** Per round: CPU per packet under perf (absent without perf). */
  cost?: PacketCost[];
}

export interface AblationSummary {
  name: string;
  removed: AblationPart[];
  /** Median over rounds of this variant's rate over the complete table's in the same round. */
  ppsVsComplete: number;
  /** Median CPU per packet in the filter chains, and the median per-round difference to the complete table (µs). */
  chainsUs?: number;
  chainsVsCompleteUs?: number;
  /** The same for the whole path. */
  totalVsCompleteUs?: number;
}

/** Each row against the first (the complete table), round by round, then the median. */
export function summarise(rows: readonly AblationRow[]): AblationSummary[] {
  const ref = rows[0];
  if (!ref) return [];
  return rows.map((r) => {
    const paired = (f: (x: PacketCost, y: PacketCost) => number) => {
      const a = r.cost;
      const b = ref.cost;
      return a && b && a.length === b.length ? median(a.map((c, i) => f(c, b[i] as PacketCost))) : undefined;
    };
    const chainsVsCompleteUs = paired((c, b) => c.us.filterChains - b.us.filterChains);
    const totalVsCompleteUs = paired((c, b) => c.totalUs - b.totalUs);
    return {
      name: r.name,
      removed: r.removed,
      ppsVsComplete: median(r.pps.map((p, i) => p / (ref.pps[i] ?? Number.NaN))),
      ...(r.cost ? { chainsUs: median(r.cost.map((c) => c.us.filterChains)) } : {}),
      ...(chainsVsCompleteUs === undefined ? {} : { chainsVsCompleteUs }),
      ...(totalVsCompleteUs === undefined ? {} : { totalVsCompleteUs }),
    };
  });
}

export interface AblationOptions {
  rounds: number;
  /** Wall time of the timed bursts of each variant in each round. */
  seconds: number;
  log: (line: string) => void;
  /** Path of bin/nft-mwan. */
  bin: string;
  burstPackets?: number;
  /** Profile with perf: 'auto' (default) when it works, false never, true or fail. */
  profile?: boolean | 'auto';
}

const BURST = 30_000;

async function loadVariant(lab: Lab, dir: string, v: AblationVariant): Promise<void> {
  // The gateway holds only nft-mwan's table (checked before the first variant) or one variant.
  await lab.exec('gw', 'nft', ['flush', 'ruleset']);
  if ('text' in v.ruleset) {
    await lab.nft('gw', v.ruleset.text);
    return;
  }
  // From a file: nft -j reads "-" by opening /dev/stdin, which fails on the socket execa gives it.
  const file = join(dir, 'variant.json');
  writeFileSync(file, JSON.stringify(v.ruleset.json));
  await lab.exec('gw', 'nft', ['-j', '-f', file]);
}

async function measure(f: SynFlood, seconds: number, name: string): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let delivered = 0;
  let sendSeconds = 0;
  do {
    const b = await timedBurst(f, 30_000);
    // A variant that loses packets is not the same path minus a part: its figures would mean nothing.
    if (b.delivered < b.run.sent * 0.99) throw new Error(`${name}: ${b.delivered} of ${b.run.sent} SYNs reached the server`);
    delivered += b.delivered;
    sendSeconds += b.run.seconds;
  } while (performance.now() < deadline);
  return delivered / sendSeconds;
}

export async function runAblation(lab: Lab, net: MultiWan, o: AblationOptions): Promise<AblationRow[]> {
  if (!Number.isInteger(o.rounds) || o.rounds < 1) throw new Error(`rounds must be a positive whole number, got ${o.rounds}`);
  if (!(o.seconds > 0) || o.seconds > 600) throw new Error(`seconds must be in (0, 600], got ${o.seconds}`);
  const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-ablation-'));
  const config = join(dir, 'config.json');
  const stateDir = join(dir, 'state');
  writeFileSync(config, JSON.stringify(nftMwanConfig(net.wans, 0), null, 1));
  const nftMwan = (cmd: string) => lab.exec('gw', process.execPath, [o.bin, cmd, '--config', config, '--state-dir', stateDir], { timeoutMs: 120_000 });
  let complete: AblationVariant | undefined;
  try {
    await nftMwan('apply');
    const tables = (await lab.exec('gw', 'nft', ['list', 'tables'])).stdout.trim();
    if (tables !== `table inet ${DEFAULTS.table}`) throw new Error(`gw holds more than nft-mwan's table, the ablation would replace it:\n${tables}`);
    const listing = JSON.parse((await lab.exec('gw', 'nft', ['-j', 'list', 'table', 'inet', DEFAULTS.table])).stdout) as unknown;
    const vs = ablationVariants(listing, markFloorTable(net.wans));
    complete = vs[0];
    const f: SynFlood = { lab, dir, trafgenConfig: await writeTrafgenConfig(lab, dir), burst: o.burstPackets ?? BURST };
    let profile = false;
    if (o.profile !== false) {
      const why = await perfWorks(lab, dir);
      if (why && o.profile === true) throw new Error(`ablation benchmark: profiling asked for, but ${why}`);
      if (why) o.log(`profile: skipped (${why})`);
      profile = why === null;
    }
    const rows: AblationRow[] = vs.map((v) => ({ name: v.name, removed: v.removed, pps: [] }));
    await installSynCounter(lab);
    for (let round = 0; round < o.rounds; round++) {
      const order = vs.map((_, i) => (i + round) % vs.length);
      for (const i of order) {
        const v = vs[i] as AblationVariant;
        const row = rows[i] as AblationRow;
        await loadVariant(lab, dir, v);
        row.pps.push(await measure(f, o.seconds, v.name));
        const cost = profile ? await profileBurst(f) : undefined;
        if (cost) (row.cost ??= []).push(cost);
        o.log(
          `  round ${round + 1}/${o.rounds} ${v.name.padEnd(26)} ${(row.pps.at(-1)! / 1000).toFixed(1).padStart(6)} kSYN/s` +
            `${cost ? `; ${cost.totalUs.toFixed(2)} us/packet: ${PROFILE_PARTS.map((p) => `${p} ${cost.us[p].toFixed(2)}`).join(', ')}` : ''}`,
        );
      }
    }
    return rows;
  } finally {
    await removeSynCounter(lab);
    // Back to nft-mwan's own table, so that `stop` removes it and its ip rules the normal way.
    if (complete) await loadVariant(lab, dir, complete).catch(() => undefined);
    await nftMwan('stop').catch((e: unknown) => o.log(`ablation: nft-mwan stop failed: ${(e as Error).message}`));
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatAblation(rows: readonly AblationRow[]): string[] {
  const f = (x: number | undefined, d: number, signed = false) =>
    x === undefined || !Number.isFinite(x) ? '-' : `${signed && x >= 0 ? '+' : ''}${x.toFixed(d)}`;
  return [
    'variant                      conns/s vs complete   filter chains (us)   chains vs complete (us)   whole path vs complete (us)',
    ...summarise(rows).map(
      (s) =>
        `${s.name.padEnd(28)} ${f(s.ppsVsComplete, 3).padStart(19)}   ${f(s.chainsUs, 2).padStart(18)}   ` +
        `${f(s.chainsVsCompleteUs, 2, true).padStart(23)}   ${f(s.totalVsCompleteUs, 2, true).padStart(27)}`,
    ),
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '10' },
      seconds: { type: 'string', default: '2' },
      'no-profile': { type: 'boolean', default: false },
      json: { type: 'string' },
    },
  });
  const say = (s: string) => process.stdout.write(`${s}\n`);
  const o: AblationOptions = {
    rounds: Number(values.rounds),
    seconds: Number(values.seconds),
    log: say,
    bin: fileURLToPath(new URL('../../../bin/nft-mwan', import.meta.url)),
    profile: values['no-profile'] ? false : 'auto',
  };
  const rows = await withLab(async (lab) => runAblation(lab, await buildMultiWan(lab, { wans: 3 }), o));
  say('');
  for (const line of formatAblation(rows)) say(line);
  if (values.json)
    writeFileSync(values.json, JSON.stringify({ date: new Date().toISOString(), options: { ...o, log: undefined }, rows, summary: summarise(rows) }, null, 2));
}

if (isMain(import.meta.url)) {
  main().catch((e: unknown) => {
    process.stderr.write(`ablation: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
}
