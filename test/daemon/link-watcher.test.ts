// The link watcher: monitor events and polls make one read each burst; a changed bypass set asks for an apply and voids the ip state.
import { afterEach, describe, expect, it } from 'vitest';
import { LinkWatcher, routingLoss } from '../../src/daemon/link-watcher.js';
import type { Usability } from '../../src/engine/links.js';
import type { ResolvedConfig } from '../../src/config/resolved.js';
import type { MonitorListener, MonitorStarter } from '../../src/system/monitor.js';
import type { Runner } from '../../src/system/runner.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const noRun: Runner = async () => {
  throw new Error('the watcher reads through its read function');
};

let watcher: LinkWatcher | null = null;
afterEach(() => watcher?.stop());

function harness(o: { pollS?: number } = {}) {
  let listener: MonitorListener | undefined;
  let listening = () => undefined as void;
  const monitor: MonitorStarter = (l) => {
    listener = l;
    return { ready: new Promise<void>((r) => (listening = r)), done: new Promise<string>(() => undefined), kill: () => undefined };
  };
  const reads = { n: 0, bypass: '192.168.1.0/24', wan2: true, gateways: 'wan1=192.0.2.1' };
  const carriers: string[] = [];
  let bypassChanges = 0;
  let polls = 0;
  /** What the daemon was told, in order: carriers and repair requests. */
  const told: string[] = [];
  const lines: string[] = [];
  watcher = new LinkWatcher({
    run: noRun,
    monitor,
    pollS: o.pollS ?? 60,
    config: () => ({}) as ResolvedConfig,
    onCarrier: (name, up) => {
      carriers.push(`${name} ${up}`);
      told.push(`${name} ${up}`);
    },
    onRoutingLoss: () => told.push('repair'),
    onBypassChange: () => bypassChanges++,
    onPoll: () => polls++,
    log: { info: (m) => lines.push(m), warn: (m) => lines.push(`warn: ${m}`) },
    read: async (): Promise<Usability> => {
      reads.n++;
      return {
        usable: new Map([
          ['wan1', true],
          ['wan2', reads.wan2],
        ]),
        bypass: reads.bypass,
        gateways: reads.gateways,
      };
    },
    gatherMs: 10,
  });
  return {
    w: watcher,
    told,
    reads,
    carriers,
    lines,
    say: (text: string) => listener?.line(text),
    listening: () => listening(),
    bypassChanges: () => bypassChanges,
    polls: () => polls,
  };
}

describe('LinkWatcher', () => {
  it('a burst of monitor lines makes one read, whose verdict goes out per WAN', async () => {
    const h = harness();
    h.w.start();
    h.reads.wan2 = false;
    h.say('3: wan2: <NO-CARRIER>');
    h.say('3: wan2: <NO-CARRIER> again');
    h.say('route del default dev wan2');
    await sleep(50);
    expect(h.reads.n).toBe(1);
    expect(h.carriers).toEqual(['wan1 true', 'wan2 false']);
  });

  it("the main table's specific routes changing asks for an apply and voids the ip state read before; the first read only records them", async () => {
    const h = harness();
    h.w.start();
    h.listening();
    await sleep(5);
    await h.w.read();
    expect(h.bypassChanges()).toBe(0);
    const mark = h.w.ipChanges?.mark() ?? null;
    expect(mark).not.toBeNull();
    await h.w.read();
    expect(h.bypassChanges()).toBe(0);
    expect(h.w.ipChanges?.unchangedSince(mark)).toBe(true);
    h.reads.bypass = '10.8.0.0/24 192.168.1.0/24';
    await h.w.read();
    expect(h.bypassChanges()).toBe(1);
    expect(h.w.ipChanges?.unchangedSince(mark)).toBe(false);
    expect(h.lines).toContain("the main table's specific routes changed: re-applying so the bypass set follows");
  });

  it('an "auto" gateway\'s next hop changing asks for an apply; the same next hop read again does not', async () => {
    const h = harness();
    h.w.start();
    h.listening();
    await h.w.read();
    await h.w.read();
    expect(h.bypassChanges()).toBe(0);
    h.reads.gateways = 'wan1=192.0.2.9';
    await h.w.read();
    expect(h.bypassChanges()).toBe(1);
    expect(h.lines).toContain(`an "auto" gateway's next hop changed (wan1=192.0.2.9): re-applying so the WAN's table follows`);
  });

  it('polls read too (without any monitor line), and tell the daemon each time; stopped, nothing more', async () => {
    const h = harness({ pollS: 0.03 });
    h.w.start();
    // Polled with a deadline, not a fixed sleep: a loaded machine may run the 30 ms timer late.
    for (const deadline = Date.now() + 5_000; (h.reads.n < 2 || h.polls() < 2) && Date.now() < deadline;) await sleep(10);
    expect(h.reads.n).toBeGreaterThanOrEqual(2);
    expect(h.polls()).toBeGreaterThanOrEqual(2);
    h.w.stop();
    const n = h.reads.n;
    h.say('3: wan2: <NO-CARRIER>');
    await sleep(60);
    expect(h.reads.n).toBe(n);
  });
});

describe('routingLoss', () => {
  it.each([
    ['Deleted 1001:\tfrom all fwmark 0x100/0xff00 lookup 1001 proto 77', true],
    ['Deleted default via 198.51.100.1 dev wan1 table 1001 proto 77 onlink ', true],
    ['[ROUTE]Deleted default via 198.51.100.1 dev wan1 table 1001 proto 77', true],
    ['Deleted 198.51.100.0/29 dev wan1 proto kernel scope link src 198.51.100.2', false],
    ['Deleted local 198.51.100.2 dev wan1 table local proto kernel scope host src 198.51.100.2', false],
    ['Deleted default via 198.51.100.1 dev wan1 table main', false],
    ['1001:\tfrom all fwmark 0x100/0xff00 lookup 1001 proto 77', false],
    ['default via 198.51.100.1 dev wan1 table 1001 proto 77', false],
    ['3: wan2: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500', false],
  ])('%s: %s', (line, loss) => {
    expect(routingLoss(line)).toBe(loss);
  });
});

describe('LinkWatcher: deleted rules and routes', () => {
  it('asks for a repair after the links are read (a route gone with its device finds that WAN down first); other lines do not', async () => {
    const h = harness();
    h.w.start();
    h.listening();
    await sleep(5);
    h.reads.wan2 = false;
    h.say('Deleted default via 198.51.100.9 dev wan2 table 1002 proto 77');
    await sleep(40);
    expect(h.told).toEqual(['wan1 true', 'wan2 false', 'repair']);
    h.say('default via 198.51.100.9 dev wan2 table 1002 proto 77');
    await sleep(40);
    expect(h.told.filter((t) => t === 'repair')).toHaveLength(1);
  });
});
