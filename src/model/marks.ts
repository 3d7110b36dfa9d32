// Firewall-mark arithmetic: spreading interface ids into the mark mask, and stable id allocation.

/** Positions of the set bits of a mask, lowest first. */
function maskBits(mask: number): number[] {
  const bits: number[] = [];
  for (let bit = 0; bit < 32; bit++) if (Math.floor(mask / 2 ** bit) % 2 === 1) bits.push(bit);
  return bits;
}

/**
 * The mark layout of one mask: like mwan3, ids are deposited into the mask's bits (which need not be
 * contiguous), the all-ones value is DEFAULT, all-ones-1 BLACKHOLE and all-ones-2 UNREACHABLE.
 */
export interface MarkLayout {
  mask: number;
  /** Largest id an interface can have. */
  maxId: number;
  markOf(id: number): number;
  special: { default: number; blackhole: number; unreachable: number };
}

export function markLayout(mask: number): MarkLayout {
  const bits = maskBits(mask);
  const allOnes = 2 ** bits.length - 1;
  const markOf = (value: number): number => {
    let mark = 0;
    bits.forEach((bit, i) => {
      if (Math.floor(value / 2 ** i) % 2 === 1) mark += 2 ** bit;
    });
    return mark;
  };
  return {
    mask,
    maxId: Math.max(0, allOnes - 3),
    markOf,
    special: { default: markOf(allOnes), blackhole: markOf(allOnes - 1), unreachable: markOf(allOnes - 2) },
  };
}

export function parseMask(value: string | number): number {
  return typeof value === 'number' ? value : Number.parseInt(value.slice(2), 16);
}

export function hex(value: number): string {
  return `0x${value.toString(16)}`;
}

export interface IdAllocation {
  ids: Map<string, number>;
  /** Interfaces whose previous id could not be kept, with the reason. */
  moved: { name: string; from: number; to: number; reason: string }[];
}

/**
 * Gives every interface an id: its explicit `id`, else the id it had when last applied, else the lowest
 * free id (new interfaces in name order, so the config's order never matters). Ids of surviving
 * interfaces therefore never change when others are reordered, added or removed.
 */
export function allocateIds(
  interfaces: readonly { name: string; explicitId?: number | undefined }[],
  previous: ReadonlyMap<string, number>,
  maxId: number,
): IdAllocation {
  const ids = new Map<string, number>();
  const taken = new Set<number>();
  const moved: IdAllocation['moved'] = [];
  for (const iface of interfaces) {
    if (iface.explicitId !== undefined) {
      ids.set(iface.name, iface.explicitId);
      taken.add(iface.explicitId);
    }
  }
  const pending = interfaces
    .filter((i) => i.explicitId === undefined)
    .map((i) => i.name)
    .sort();
  const fresh: string[] = [];
  for (const name of pending) {
    const before = previous.get(name);
    if (before !== undefined && before <= maxId && !taken.has(before)) {
      ids.set(name, before);
      taken.add(before);
    } else {
      fresh.push(name);
    }
  }
  // Ids that a removed interface used are taken last: connections still carrying such a mark in
  // conntrack must not be steered onto a different WAN.
  const retired = new Set([...previous.values()].filter((id) => !taken.has(id)));
  const order: number[] = [];
  // Masks can be 32 bits wide: walk only as far as the ids needed, never the whole range.
  for (let id = 1; id <= maxId && order.length < fresh.length; id++) if (!taken.has(id) && !retired.has(id)) order.push(id);
  order.push(...[...retired].filter((id) => id <= maxId).sort((a, b) => a - b));
  for (const name of fresh) {
    // validateConfig guarantees the mask has room for every interface.
    const next = order.shift() as number;
    ids.set(name, next);
    taken.add(next);
    const before = previous.get(name);
    if (before !== undefined) {
      moved.push({ name, from: before, to: next, reason: `id ${before} is now taken by an explicit id or out of range` });
    }
  }
  return { ids, moved };
}
