// The transition ledger: which state changes are owed their flush and hooks, and in which order. Pure (no I/O, no clock).
import type { LinkState } from '../model/facts.js';
import type { Family } from '../model/names.js';
import type { Reason } from '../model/tracking.js';
import { keyOf } from '../model/tracker-keys.js';

export interface Transition {
  name: string;
  /** Set when the WAN keeps a state per family (track6): the family whose state changed. */
  family?: Family;
  from: LinkState;
  to: LinkState;
  reason: Reason;
  detail: string;
  /** A tracker-only step (no state change, no apply): only its hook is owed. */
  action?: 'connecting' | 'disconnecting';
  /** When the trackers decided this state change (the caller's monotonic clock, in ms): the apply landing it is timed from it. */
  decidedAt?: number;
}

export interface Ledger {
  /** Transitions not yet taken by an apply (state changes), or waiting behind one (connecting/disconnecting). */
  readonly pending: readonly Transition[];
  /** State changes per tracker (see keyOf) whose hooks have not been queued yet (pending or being applied). */
  readonly undelivered: ReadonlyMap<string, number>;
}

export const EMPTY_LEDGER: Ledger = { pending: [], undelivered: new Map() };

const bump = (m: ReadonlyMap<string, number>, name: string, by: number, from: number) => new Map(m).set(name, (m.get(name) ?? from) + by);

/** A state change: owed an apply, then its flush and its hook. */
export function recordChange(l: Ledger, tr: Transition): Ledger {
  return { pending: [...l.pending, tr], undelivered: bump(l.undelivered, keyOf(tr), 1, 0) };
}

/**
 * connecting/disconnecting changes no rule: its hook is due at once, or after the state change still owed to
 * the same WAN (keeping mwan3's order).
 */
export function recordBetween(l: Ledger, tr: Transition): { ledger: Ledger; due: Transition[] } {
  if ((l.undelivered.get(keyOf(tr)) ?? 0) > 0) return { ledger: { ...l, pending: [...l.pending, tr] }, due: [] };
  return { ledger: l, due: [tr] };
}

/** An apply starts: it takes everything pending. */
export function take(l: Ledger): { ledger: Ledger; taken: Transition[] } {
  return { ledger: { ...l, pending: [] }, taken: [...l.pending] };
}

/** The oldest decision among what an apply took (a failed apply's are taken again, so they stay the oldest); null: none. */
export function decidedAt(taken: readonly Transition[]): number | null {
  let oldest: number | null = null;
  for (const tr of taken) if (tr.decidedAt !== undefined && (oldest === null || tr.decidedAt < oldest)) oldest = tr.decidedAt;
  return oldest;
}

/** The apply failed (nothing changed): what it took is owed again, ahead of what came meanwhile. */
export function putBack(l: Ledger, taken: readonly Transition[]): Ledger {
  return { ...l, pending: [...taken, ...l.pending] };
}

export interface FlushOrder {
  name: string;
  /** Only this family's connections (the WAN keeps a state per family); absent: all of its connections. */
  family?: Family;
  mark: number;
  /** The state it changed to: a WAN that has moved on since is not flushed for this one. */
  to: LinkState;
  trigger: 'online' | 'offline';
  /** All its connections (flushConntrack names the trigger); else only its unanswered TCP attempts and UDP flows. */
  all: boolean;
}

export interface FlushContext {
  /** The WANs' marks in the plan just applied. */
  marks: Readonly<Record<string, number>>;
  /** The states recorded now, per tracker (see keyOf). */
  states: Readonly<Record<string, LinkState>>;
  flushConntrack: Readonly<Record<string, readonly string[]>>;
}

/**
 * After a successful apply: the conntrack deletions owed, one per WAN for its last change. A WAN whose
 * flushConntrack names the new state loses all its connections; one that went offline (or down) without it
 * still loses what never got an answer; one that came online without it loses nothing.
 */
export function flushOrders(taken: readonly Transition[], c: FlushContext): FlushOrder[] {
  const out: FlushOrder[] = [];
  const seen = new Set<string>();
  for (const tr of [...taken].reverse()) {
    const key = keyOf(tr);
    if (tr.action !== undefined || seen.has(key)) continue;
    seen.add(key);
    const mark = c.marks[tr.name];
    const trigger = tr.to === 'online' ? 'online' : 'offline';
    const all = (c.flushConntrack[tr.name] ?? []).includes(trigger);
    if (mark === undefined || c.states[key] !== tr.to || (!all && trigger !== 'offline')) continue;
    out.push({ name: tr.name, ...(tr.family ? { family: tr.family } : {}), mark, to: tr.to, trigger, all });
  }
  return out;
}

/**
 * After the flushes: the hooks due now, in order. Those of the transitions applied, then any connecting/
 * disconnecting that waited for them, unless another change of the same WAN is still owed first.
 */
export function settle(l: Ledger, taken: readonly Transition[]): { ledger: Ledger; hooks: Transition[] } {
  const hooks = [...taken];
  let undelivered = l.undelivered;
  for (const tr of taken) if (tr.action === undefined) undelivered = bump(undelivered, keyOf(tr), -1, 1);
  const owed = new Set<string>();
  const pending = l.pending.filter((tr) => {
    if (tr.action === undefined) owed.add(keyOf(tr));
    else if (!owed.has(keyOf(tr))) return (hooks.push(tr), false);
    return true;
  });
  return { ledger: { pending, undelivered }, hooks };
}
