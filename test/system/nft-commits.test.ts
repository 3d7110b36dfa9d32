// Telling the daemon's own nft commits from others' by the pid on nft monitor's generation lines.
import { describe, expect, it } from 'vitest';
import type { MonitorListener, MonitorStarter } from '../../src/system/monitor.js';
import { NftCommits } from '../../src/system/nft-commits.js';

function fakeMonitor() {
  const m = { listener: undefined as MonitorListener | undefined, listen: () => undefined as void, exit: (_why: string) => undefined as void, starts: 0 };
  const starter: MonitorStarter = (l) => {
    m.listener = l;
    m.starts++;
    return { ready: new Promise<void>((r) => (m.listen = r)), done: new Promise<string>((r) => (m.exit = r)), kill: () => m.exit('killed') };
  };
  return { m, starter };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

/** Started on a fake monitor that listens: `o` as NftCommits takes them (warnings dropped unless asked for). */
async function listening(o: { warn?: (w: string) => void; onForeign?: () => void; isOwnThread?: (tid: number) => boolean } = {}) {
  const { m, starter } = fakeMonitor();
  const c = new NftCommits(starter, o.warn ?? (() => undefined), o.onForeign, o.isOwnThread);
  c.start();
  m.listen();
  await tick();
  return { m, c };
}
const line = (l: MonitorListener | undefined, text: string) => l?.line(text);

describe('NftCommits', () => {
  it('vouches for nothing and watches nothing before the monitor listens', async () => {
    const { starter } = fakeMonitor();
    const c = new NftCommits(starter, () => undefined);
    c.start();
    expect(c.mark()).toBeNull();
    expect(c.unchangedSince(c.mark())).toBe(false);
    expect(c.watch(123)).toBeNull();
    c.stop();
  });

  it('two own commits under one pid (libnftables in process) are both its own, however late the monitor reports them', async () => {
    const { m, c } = await listening();
    const mark = c.mark();
    const seen: number[] = [];
    void c.watch(4321)?.then(() => seen.push(1));
    void c.watch(4321)?.then(() => seen.push(2));
    for (const g of [7, 8]) {
      line(m.listener, 'add rule inet nft_mwan policy_balanced goto mark_wan1');
      line(m.listener, `# new generation ${g} by process 4321 (node)`);
    }
    await tick();
    expect(seen).toEqual([1, 2]);
    expect(c.unchangedSince(mark)).toBe(true);
    // A third commit under that pid that nobody announced is someone else's doing.
    line(m.listener, 'add rule inet nft_mwan policy_balanced goto mark_wan1');
    line(m.listener, '# new generation 9 by process 4321 (node)');
    expect(c.unchangedSince(mark)).toBe(false);
    c.stop();
  });

  it("in process, the kernel reports the committing thread: a commit by one of this process's threads is its own", async () => {
    const WORKER = 9_999_001;
    const { m, c } = await listening({ isOwnThread: (tid) => tid === WORKER });
    const mark = c.mark();
    let seen = false;
    // startBatch in process tells the watch this process's pid; the FFI's worker thread commits.
    void c.watch(process.pid)?.then(() => (seen = true));
    line(m.listener, 'add rule inet nft_mwan policy_balanced goto mark_wan1');
    line(m.listener, `# new generation 7 by process ${WORKER} (node)`);
    await tick();
    expect(seen).toBe(true);
    expect(c.unchangedSince(mark)).toBe(true);
    // Another process's thread is not.
    line(m.listener, 'add rule inet nft_mwan policy_balanced goto mark_wan1');
    line(m.listener, `# new generation 8 by process ${WORKER + 1} (nft)`);
    expect(c.unchangedSince(mark)).toBe(false);
    c.stop();
  });

  it("in process, a commit of its own needs no watch: a probe-pair update neither drops the verified listing nor takes an apply's watch", async () => {
    const WORKER = 9_999_001;
    let repairs = 0;
    const { m, c } = await listening({ onForeign: () => repairs++, isOwnThread: (tid) => tid === WORKER });
    const mark = c.mark();
    // The daemon's probe pairs, unwatched.
    line(m.listener, 'add element inet nft_mwan probe_pairs { 192.0.2.2 . 198.51.100.7 timeout 3s }');
    line(m.listener, `# new generation 7 by process ${WORKER} (node)`);
    expect(c.unchangedSince(mark)).toBe(true);
    // An apply watched, with a probe-pair update committed just before its own commit.
    let seen = false;
    void c.watch(process.pid)?.then(() => (seen = true));
    line(m.listener, 'add element inet nft_mwan probe_pairs { 192.0.2.2 . 198.51.100.7 timeout 3s }');
    line(m.listener, `# new generation 8 by process ${WORKER} (node)`);
    line(m.listener, 'add rule inet nft_mwan policy_balanced goto mark_wan1');
    line(m.listener, `# new generation 9 by process ${WORKER} (node)`);
    await tick();
    expect(seen).toBe(true);
    expect(repairs).toBe(0);
    expect(c.unchangedSince(mark)).toBe(true);
    c.stop();
  });

  it("its own commits resolve their watch and leave the mark standing; anyone else's, or lost events, do not", async () => {
    const { m, c } = await listening();
    const mark = c.mark();
    expect(mark).not.toBeNull();
    let seen = false;
    void c.watch(4321)?.then(() => (seen = true));
    line(m.listener, 'add rule inet nft_mwan policy_balanced goto mark_wan1');
    await tick();
    expect(seen).toBe(false);
    line(m.listener, '# new generation 7 by process 4321 (nft)');
    await tick();
    expect(seen).toBe(true);
    expect(c.unchangedSince(mark)).toBe(true);

    line(m.listener, '# new generation 8 by process 999 (nft)');
    expect(c.unchangedSince(mark)).toBe(false);
    const second = c.mark();
    expect(c.unchangedSince(second)).toBe(true);
    // A generation line without a process: nobody vouches for it.
    line(m.listener, '# new generation 9');
    expect(c.unchangedSince(second)).toBe(false);
    const third = c.mark();
    m.listener?.trouble('netlink: Error: No buffer space available');
    expect(c.unchangedSince(third)).toBe(false);
    c.stop();
  });

  it('once the monitor exits, nothing read before is vouched for and commits are not watched', async () => {
    const warnings: string[] = [];
    const { m, c } = await listening({ warn: (w) => warnings.push(w) });
    const mark = c.mark();
    m.exit('1');
    await tick();
    expect(c.unchangedSince(mark)).toBe(false);
    expect(c.mark()).toBeNull();
    expect(c.watch(5)).toBeNull();
    expect(warnings).toEqual(['nft monitor exited (1); restarting it']);
    c.stop();
  });
});

describe('NftCommits: which foreign commits may have damaged the table', () => {
  it.each([
    ['a deleted table', ['delete table inet nft_mwan'], 1],
    ['a flushed ruleset', ['delete table inet fw4', 'delete table inet nft_mwan'], 1],
    ['a rule removed from a chain', ['delete rule inet nft_mwan classify handle 7'], 1],
    [
      'set elements only (nft-mwan set, dnsmasq nftset)',
      ['add element inet nft_mwan streaming { 192.0.2.7 }', 'delete element inet nft_mwan streaming { 192.0.2.8 }'],
      0,
    ],
    ['elements and a rule', ['add element inet nft_mwan streaming { 192.0.2.7 }', 'add rule inet fw4 input accept'], 1],
  ])('%s: %i repair request(s)', async (_what, events, repairs) => {
    let asked = 0;
    const { m, c } = await listening({ onForeign: () => asked++ });
    const mark = c.mark();
    for (const e of events) line(m.listener, e);
    line(m.listener, '# new generation 42 by process 999 (nft)');
    expect(asked).toBe(repairs);
    // Either way the table changed: what was verified before is not vouched for any more.
    expect(c.unchangedSince(mark)).toBe(false);
    // The next transaction is judged on its own lines.
    line(m.listener, 'add element inet nft_mwan streaming { 192.0.2.9 }');
    line(m.listener, '# new generation 43 by process 999 (nft)');
    expect(asked).toBe(repairs);
    c.stop();
  });

  it('an own commit is never a repair request, and lost events always are', async () => {
    let asked = 0;
    const { m, c } = await listening({ onForeign: () => asked++ });
    void c.watch(4321);
    line(m.listener, 'delete rule inet nft_mwan classify handle 7');
    line(m.listener, '# new generation 44 by process 4321 (nft)');
    expect(asked).toBe(0);
    m.listener?.trouble('netlink: Error: ENOBUFS');
    expect(asked).toBe(1);
    c.stop();
  });
});
