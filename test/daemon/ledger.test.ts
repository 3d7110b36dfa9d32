// The transition ledger: which state changes are owed their flush and hooks, and in which order (pure, table-driven).
import { describe, expect, it } from 'vitest';
import {
  decidedAt,
  EMPTY_LEDGER,
  flushOrders,
  putBack,
  recordBetween,
  recordChange,
  settle,
  take,
  type Ledger,
  type Transition,
} from '../../src/daemon/ledger.js';
import type { LinkState } from '../../src/model/facts.js';

const change = (name: string, from: LinkState, to: LinkState): Transition => ({ name, from, to, reason: 'probes', detail: `${from}->${to}` });
const between = (name: string, action: 'connecting' | 'disconnecting'): Transition => ({
  name,
  from: 'online',
  to: 'online',
  reason: 'probes',
  detail: action,
  action,
});
const label = (tr: Transition) => `${tr.name} ${tr.action ?? `${tr.from}->${tr.to}`}`;
const ledgerOf = (...trs: Transition[]): Ledger => trs.reduce((l, tr) => (tr.action ? recordBetween(l, tr).ledger : recordChange(l, tr)), EMPTY_LEDGER);

describe('connecting/disconnecting: due at once, or behind the state change still owed to the same WAN', () => {
  it.each([
    { case: 'nothing owed: due now', owed: [] as Transition[], due: ['wan1 disconnecting'], pending: [] as string[] },
    {
      case: "another WAN's change owed: still due now",
      owed: [change('wan2', 'online', 'offline')],
      due: ['wan1 disconnecting'],
      pending: ['wan2 online->offline'],
    },
    {
      case: "the same WAN's change owed: it waits",
      owed: [change('wan1', 'offline', 'online')],
      due: [],
      pending: ['wan1 offline->online', 'wan1 disconnecting'],
    },
  ])('$case', ({ owed, due, pending }) => {
    const r = recordBetween(ledgerOf(...owed), between('wan1', 'disconnecting'));
    expect(r.due.map(label)).toEqual(due);
    expect(r.ledger.pending.map(label)).toEqual(pending);
  });

  it('a change still being applied (taken, not settled) keeps it waiting too', () => {
    const { ledger } = take(ledgerOf(change('wan1', 'online', 'offline')));
    const r = recordBetween(ledger, between('wan1', 'connecting'));
    expect(r.due).toEqual([]);
    expect(r.ledger.pending.map(label)).toEqual(['wan1 connecting']);
  });
});

describe('an apply takes everything pending; a failed one puts it back ahead of what came meanwhile', () => {
  it('take empties the pending list, putBack restores the order', () => {
    const l = ledgerOf(change('wan1', 'online', 'offline'), change('wan2', 'online', 'down'));
    const { ledger, taken } = take(l);
    expect(ledger.pending).toEqual([]);
    expect(taken.map(label)).toEqual(['wan1 online->offline', 'wan2 online->down']);
    const meanwhile = recordChange(ledger, change('wan1', 'offline', 'online'));
    expect(putBack(meanwhile, taken).pending.map(label)).toEqual(['wan1 online->offline', 'wan2 online->down', 'wan1 offline->online']);
  });
});

describe('the time from the decision to the apply that lands it', () => {
  const at = (tr: Transition, t: number): Transition => ({ ...tr, decidedAt: t });

  it('an apply is timed from the oldest decision it takes; the next apply starts afresh', () => {
    const { ledger, taken } = take(ledgerOf(at(change('wan1', 'online', 'offline'), 100), at(change('wan2', 'online', 'down'), 105)));
    expect(decidedAt(taken)).toBe(100);
    expect(decidedAt(take(ledger).taken)).toBeNull();
  });

  it('a decision made while an apply runs is timed by the next apply', () => {
    const first = take(ledgerOf(at(change('wan1', 'online', 'offline'), 10)));
    const next = take(recordChange(first.ledger, at(change('wan2', 'online', 'offline'), 20)));
    expect([decidedAt(first.taken), decidedAt(next.taken)]).toEqual([10, 20]);
  });

  it('a failed apply puts its decision back, older than one made meanwhile', () => {
    const first = take(ledgerOf(at(change('wan1', 'online', 'offline'), 10)));
    const meanwhile = recordChange(first.ledger, at(change('wan2', 'online', 'offline'), 30));
    expect(decidedAt(take(putBack(meanwhile, first.taken)).taken)).toBe(10);
  });

  it('an apply that took no state change (a repair, connecting/disconnecting hooks) is not timed', () => {
    expect(decidedAt([])).toBeNull();
    expect(decidedAt([between('wan1', 'connecting')])).toBeNull();
  });
});

describe('after an apply: the conntrack deletions owed', () => {
  const marks = { wan1: 0x100, wan2: 0x200 };
  it.each([
    {
      case: 'offline without flushConntrack: its unanswered attempts only',
      taken: [change('wan1', 'online', 'offline')],
      states: { wan1: 'offline' },
      flush: {},
      orders: ['wan1 0x100 unanswered offline'],
    },
    {
      case: 'down without flushConntrack: its unanswered attempts only',
      taken: [change('wan1', 'online', 'down')],
      states: { wan1: 'down' },
      flush: {},
      orders: ['wan1 0x100 unanswered offline'],
    },
    { case: 'online without flushConntrack: nothing', taken: [change('wan1', 'offline', 'online')], states: { wan1: 'online' }, flush: {}, orders: [] },
    {
      case: 'online with flushConntrack online: all of it',
      taken: [change('wan1', 'offline', 'online')],
      states: { wan1: 'online' },
      flush: { wan1: ['online'] },
      orders: ['wan1 0x100 all online'],
    },
    {
      case: 'offline with flushConntrack offline: all of it',
      taken: [change('wan2', 'online', 'offline')],
      states: { wan2: 'offline' },
      flush: { wan2: ['offline'] },
      orders: ['wan2 0x200 all offline'],
    },
    { case: 'a WAN that moved on since is left alone', taken: [change('wan1', 'online', 'offline')], states: { wan1: 'online' }, flush: {}, orders: [] },
    {
      case: 'a WAN without a mark in the plan (removed) is left alone',
      taken: [change('wan3', 'online', 'offline')],
      states: { wan3: 'offline' },
      flush: {},
      orders: [],
    },
    {
      case: 'connecting/disconnecting flush nothing',
      taken: [between('wan1', 'disconnecting')],
      states: { wan1: 'online' },
      flush: { wan1: ['online'] },
      orders: [],
    },
    {
      case: 'one per WAN, for its last change, latest WAN first',
      taken: [change('wan1', 'online', 'offline'), change('wan2', 'online', 'offline'), change('wan1', 'offline', 'down')],
      states: { wan1: 'down', wan2: 'offline' },
      flush: {},
      orders: ['wan1 0x100 unanswered offline', 'wan2 0x200 unanswered offline'],
    },
    {
      case: 'the last change decides: back online after going offline flushes nothing',
      taken: [change('wan1', 'online', 'offline'), change('wan1', 'offline', 'online')],
      states: { wan1: 'online' },
      flush: {},
      orders: [],
    },
  ] as { case: string; taken: Transition[]; states: Record<string, LinkState>; flush: Record<string, string[]>; orders: string[] }[])(
    '$case',
    ({ taken, states, flush, orders }) => {
      const out = flushOrders(taken, { marks, states, flushConntrack: flush });
      expect(out.map((o) => `${o.name} 0x${o.mark.toString(16)} ${o.all ? 'all' : 'unanswered'} ${o.trigger}`)).toEqual(orders);
    },
  );
});

describe('after the flushes: the hooks due, in order', () => {
  it.each([
    {
      case: 'the applied changes in their order',
      before: [change('wan1', 'online', 'offline'), change('wan2', 'online', 'down')],
      meanwhile: [] as Transition[],
      hooks: ['wan1 online->offline', 'wan2 online->down'],
      pending: [] as string[],
    },
    {
      case: 'a disconnecting that waited behind its WAN change follows it',
      before: [change('wan1', 'offline', 'online'), between('wan1', 'disconnecting')],
      meanwhile: [],
      hooks: ['wan1 offline->online', 'wan1 disconnecting'],
      pending: [],
    },
    {
      case: 'one that waits behind a change that came meanwhile stays',
      before: [change('wan1', 'online', 'offline')],
      meanwhile: [change('wan1', 'offline', 'online'), between('wan1', 'disconnecting')],
      hooks: ['wan1 online->offline'],
      pending: ['wan1 offline->online', 'wan1 disconnecting'],
    },
  ])('$case', ({ before, meanwhile, hooks, pending }) => {
    const { ledger, taken } = take(ledgerOf(...before));
    // What came during the apply: changes, and connecting/disconnecting, which wait while one of its WAN is owed.
    const during = meanwhile.reduce((l, tr) => (tr.action ? recordBetween(l, tr).ledger : recordChange(l, tr)), ledger);
    const r = settle(during, taken);
    expect(r.hooks.map(label)).toEqual(hooks);
    expect(r.ledger.pending.map(label)).toEqual(pending);
  });

  it('settled, a WAN owes nothing: its next connecting is due at once', () => {
    const { ledger, taken } = take(ledgerOf(change('wan1', 'online', 'offline')));
    const settled = settle(ledger, taken).ledger;
    expect(recordBetween(settled, between('wan1', 'connecting')).due.map(label)).toEqual(['wan1 connecting']);
  });

  it('a failed apply put back: the WAN still owes its change, so a connecting waits', () => {
    const { ledger, taken } = take(ledgerOf(change('wan1', 'online', 'offline')));
    expect(recordBetween(putBack(ledger, taken), between('wan1', 'connecting')).due).toEqual([]);
  });
});

describe('a WAN with a state per family (track6)', () => {
  const v6 = (tr: Transition): Transition => ({ ...tr, family: 'ipv6' });
  const v4 = (tr: Transition): Transition => ({ ...tr, family: 'ipv4' });

  it("each family's change gets its own deletion, of that family's connections only", () => {
    const taken = [v4(change('ds', 'online', 'offline')), v6(change('ds', 'online', 'offline'))];
    const orders = flushOrders(taken, { marks: { ds: 0x100 }, states: { ds: 'offline', 'ds/ipv6': 'offline' }, flushConntrack: {} });
    expect(orders.map((o) => [o.name, o.family, o.trigger, o.all])).toEqual([
      ['ds', 'ipv6', 'offline', false],
      ['ds', 'ipv4', 'offline', false],
    ]);
  });

  it('an IPv6 change that the IPv6 state has moved on from is not flushed, whatever the IPv4 state', () => {
    const orders = flushOrders([v6(change('ds', 'online', 'offline'))], {
      marks: { ds: 0x100 },
      states: { ds: 'offline', 'ds/ipv6': 'online' },
      flushConntrack: {},
    });
    expect(orders).toEqual([]);
  });

  it("an IPv4 change still owed does not hold back the IPv6 tracker's connecting hook", () => {
    const l = recordChange(EMPTY_LEDGER, v4(change('ds', 'online', 'offline')));
    expect(recordBetween(l, v6({ ...between('ds', 'connecting'), family: 'ipv6' })).due.map(label)).toEqual(['ds connecting']);
    expect(recordBetween(l, v4(between('ds', 'connecting'))).due).toEqual([]);
  });
});
