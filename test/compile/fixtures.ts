// Inputs for the compile stages' unit tests: resolved configs from raw ones, and planned interfaces by hand.
import type { ResolvedConfig } from '../../src/config/resolved.js';
import { validateConfig } from '../../src/config/validate.js';
import { DEFAULTS } from '../../src/model/defaults.js';
import { markLayout } from '../../src/model/marks.js';
import type { NftBatch, PlannedInterface } from '../../src/model/plan.js';

/** A raw config, validated and resolved as the loader would (throws on an invalid one, naming the issues). */
export function resolved(raw: unknown): ResolvedConfig {
  const v = validateConfig(raw);
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return v.config;
}

export const layout = markLayout(DEFAULTS.markMask);

/** A planned interface: enabled, online IPv4 WAN on device `dev<id>` unless told otherwise. */
export function planned(name: string, id: number, over: Partial<PlannedInterface> = {}): PlannedInterface {
  return {
    name,
    device: `dev${id}`,
    id,
    mark: layout.markOf(id),
    table: DEFAULTS.routeTableBase + id,
    family: 'ipv4',
    gateway: `192.0.2.${id}`,
    gateway6: null,
    enabled: true,
    online: true,
    linkUp: true,
    address: null,
    address6: null,
    ...over,
  };
}

export const byName = (interfaces: readonly PlannedInterface[]) => new Map(interfaces.map((i) => [i.name, i]));

type Obj = Record<string, unknown>;

/** What nft lists after a full batch: every object it adds, elements inside their sets, handles added. */
export function listingOf(b: NftBatch): Obj[] {
  const out: Obj[] = [];
  let handle = 1;
  for (const cmd of b.nftables) {
    const [verb, body] = Object.entries(cmd)[0] as [string, Obj];
    const [kind, o] = Object.entries(body)[0] as [string, Obj];
    if (verb === 'add' && ['chain', 'set', 'map', 'counter', 'rule'].includes(kind)) out.push({ [kind]: { ...o, handle: handle++ } });
    if (verb === 'add' && kind === 'element') {
      const set = out.find((i) => ((i.set ?? i.map) as Obj | undefined)?.name === o.name);
      const s = (set?.set ?? set?.map) as Obj;
      s.elem = [...((s.elem as unknown[]) ?? []), ...(o.elem as unknown[])];
    }
  }
  return out;
}
