// Inputs for the compile stages' unit tests: resolved configs from raw ones, and planned interfaces by hand.
import type { ResolvedConfig } from '../../src/config/resolved.js';
import { validateConfig } from '../../src/config/validate.js';
import { DEFAULTS } from '../../src/model/defaults.js';
import { markLayout } from '../../src/model/marks.js';
import type { PlannedInterface } from '../../src/model/plan.js';

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
