// The values already in a verdict-map group keyed on one field, so a new rule is checked against its neighbours only.

export type Bound = number | bigint;

export interface Interval {
  first: Bound;
  last: Bound;
}

/**
 * Disjoint inclusive intervals kept sorted by start (addresses or ports), and device names. A group's members never
 * overlap, so a rule's values are checked with one binary search each (1,000 rules: log n each, not n). Rules are
 * mostly written in address order: a value past the last one is appended, and only one that falls between
 * others is spliced in (native memory moves, cheap at these sizes; an apply runs cold, where the fewest steps in
 * JS win over an asymptotically better tree).
 */
export class DisjointIndex {
  private readonly starts: Bound[] = [];
  private readonly ends: Bound[] = [];
  private readonly names = new Set<string>();

  addNames(names: readonly string[]): void {
    for (const n of names) this.names.add(n);
  }

  meetsNames(names: readonly string[]): boolean {
    return names.some((n) => this.names.has(n));
  }

  /** Adds one rule's values; they may overlap each other (merged first), never a value already here. */
  addIntervals(values: readonly Interval[]): void {
    if (values.length === 1) {
      const only = values[0] as Interval;
      this.insert(only.first, only.last);
      return;
    }
    const sorted = [...values].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
    let first = (sorted[0] as Interval).first;
    let last = (sorted[0] as Interval).last;
    for (const iv of sorted) {
      if (iv.first <= last) {
        if (iv.last > last) last = iv.last;
      } else {
        this.insert(first, last);
        first = iv.first;
        last = iv.last;
      }
    }
    this.insert(first, last);
  }

  /** Does any of the values meet (share a point with) a value already here? */
  meetsIntervals(values: readonly Interval[]): boolean {
    for (let k = 0; k < values.length; k++) {
      const iv = values[k] as Interval;
      // The last interval starting at or before iv.last is the only one that can reach into it.
      const i = this.upper(iv.last) - 1;
      if (i >= 0 && (this.ends[i] as Bound) >= iv.first) return true;
    }
    return false;
  }

  private insert(first: Bound, last: Bound): void {
    const n = this.starts.length;
    if (n === 0 || first > (this.starts[n - 1] as Bound)) {
      this.starts.push(first);
      this.ends.push(last);
      return;
    }
    const at = this.upper(first);
    this.starts.splice(at, 0, first);
    this.ends.splice(at, 0, last);
  }

  /** Index of the first start greater than x. */
  private upper(x: Bound): number {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.starts[mid] as Bound) <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
