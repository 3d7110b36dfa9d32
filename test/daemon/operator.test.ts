// The control socket's commands: reload passes through, ifup/ifdown force the WAN and answer once applied, anything
// else is refused with what exists.
import { describe, expect, it } from 'vitest';
import { operatorCommands } from '../../src/daemon/operator.js';

type S = 'online' | 'offline' | 'down';

/** `state6`: the IPv6 state of a WAN tracked per family (track6); undefined: one state. */
function harness(state: S = 'offline', state6?: S) {
  const forced: [string, boolean][] = [];
  let applied = 0;
  const run = operatorCommands({
    reload: async () => ({ ok: true, message: 'reloaded' }),
    trackers: { has: (n) => n === 'wan1', names: () => ['wan1'], state: (k) => (k === 'wan1' ? state : k === 'wan1/ipv6' ? state6 : undefined) },
    force: (name, down) => forced.push([name, down]),
    applied: async () => {
      applied++;
    },
    log: { info: () => undefined },
  });
  return { run, forced, applied: () => applied };
}

describe('operatorCommands', () => {
  it('reload is the daemon reload', async () => {
    expect(await harness().run({ command: 'reload' })).toEqual({ ok: true, message: 'reloaded' });
  });

  it.each<['ifup' | 'ifdown', 'online' | 'offline', boolean, string]>([
    ['ifdown', 'offline', true, 'wan1 is offline'],
    ['ifup', 'online', false, 'wan1 is online'],
    ['ifup', 'offline', false, 'wan1 is offline (waiting for its link and probes)'],
  ])('%s with the WAN then %s: forced down=%s, answered after the apply: %s', async (command, state, down, message) => {
    const h = harness(state);
    expect(await h.run({ command, interface: 'wan1' })).toEqual({ ok: true, message });
    expect(h.forced).toEqual([['wan1', down]]);
    expect(h.applied()).toBe(1);
  });

  it.each<['ifup' | 'ifdown', S, S, string]>([
    ['ifdown', 'offline', 'offline', 'wan1 is offline (IPv6 offline)'],
    ['ifup', 'online', 'offline', 'wan1 is online (IPv6 offline) (waiting for its link and probes)'],
    ['ifup', 'online', 'online', 'wan1 is online (IPv6 online)'],
  ])('%s of a WAN tracked per family (IPv4 %s, IPv6 %s): %s', async (command, state, state6, message) => {
    expect(await harness(state, state6).run({ command, interface: 'wan1' })).toEqual({ ok: true, message });
  });

  it('an unknown interface is refused with the ones there are, nothing forced', async () => {
    const h = harness();
    expect(await h.run({ command: 'ifdown', interface: 'wan9' })).toEqual({ ok: false, message: 'unknown interface "wan9" (interfaces: wan1)' });
    expect(h.forced).toEqual([]);
  });

  it('an unknown command is refused', async () => {
    expect(await harness().run({ command: 'bogus' } as never)).toEqual({ ok: false, message: 'unknown command "bogus"' });
  });
});
