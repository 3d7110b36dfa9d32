// Operator safety and visibility in the lab: apply --try with its rollbacks, explain checked against real flows.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { endpoint, runTcpClient, startTcpServer } from '../../lab/agents.js';
import { Lab, type BackgroundProcess } from '../../lab/netns.js';
import { buildMultiWan, LAB_NET } from '../../lab/topology.js';
import { describeLab } from '../../lab/vitest.js';
import { BIN, cli, cliOk, configFile, snapshot } from './helpers.js';
import { startDaemon } from './daemon-helpers.js';

const W1 = LAB_NET.wan[1];
const W2 = LAB_NET.wan[2];
const [SRV1, SRV2] = LAB_NET.server.addrs as [string, string];
const { lan: LAN, lan2: LAN2 } = LAB_NET;

const v1 = {
  interfaces: { wan1: { device: 'wan1', gateway: 'auto' }, wan2: { device: 'wan2', gateway: 'auto' } },
  policies: {
    balanced: {
      members: [
        { interface: 'wan1', weight: 3 },
        { interface: 'wan2', weight: 1 },
      ],
    },
    wan2_only: { members: [{ interface: 'wan2' }] },
  },
  rules: [
    { name: 'pin_srv2', destIp: [`${SRV2}/32`], proto: 'tcp', destPort: [5001], policy: 'wan2_only' },
    { name: 'default', policy: 'balanced' },
  ],
};
/** The change being tried: everything through wan1. */
const v2 = { ...v1, rules: [{ name: 'all_wan1', policy: 'wan1_only' }], policies: { ...v1.policies, wan1_only: { members: [{ interface: 'wan1' }] } } };

/** The destination SRV1:5001 is sticky by source on the 3:1 policy. */
const vSticky = {
  ...v1,
  rules: [{ name: 'srv1', destIp: [`${SRV1}/32`], proto: 'tcp', destPort: [5001], policy: 'balanced', sticky: true, stickyTimeout: 120 }, ...v1.rules],
};

describeLab('operator safety and visibility', () => {
  const lab = new Lab();
  const state = mkdtempSync(join(tmpdir(), 'nft-mwan-op-'));
  const stateDir = join(state, 'state');
  const c1 = configFile(v1);
  const c2 = configFile(v2);
  const running: BackgroundProcess[] = [];

  /** `nft-mwan apply --try` in the background (its own stdin is not a terminal). */
  const tryApply = async (seconds: number) => {
    const p = lab.spawn('gw', BIN, ['apply', '--config', c2, '--try', String(seconds), '--state-dir', stateDir]);
    running.push(p);
    // Applied once the try announces its deadline.
    await lab.waitFor(() => /applied on trial/.test(p.stderr()) || !p.running, { timeoutMs: 15_000, what: 'the trial apply' });
    expect(p.stderr()).toMatch(/applied on trial: press Enter here, or run `nft-mwan confirm`/);
    return p;
  };

  beforeAll(async () => {
    await buildMultiWan(lab, { wans: 2 });
    await startTcpServer(lab, 'srv', [endpoint(SRV1, 5001), endpoint(SRV2, 5001)]);
    await startTcpServer(lab, LAN2.ns, [endpoint(LAN2.addr, 5001)]);
    // Byte-for-byte snapshots below: let the kernel finish IPv6 duplicate address detection on the new
    // links first (it adds link-local routes a second or two after the links come up).
    await lab.waitFor(async () => (await lab.ip('gw', ['-6', 'addr', 'show', 'tentative'])).stdout.trim() === '', {
      timeoutMs: 15_000,
      what: 'IPv6 DAD to settle in the gateway',
    });
  });

  afterEach(async () => {
    for (const p of running.splice(0)) await p.kill();
    await cli(lab, 'gw', 'stop', '--config', c1, '--state-dir', stateDir);
  });

  afterAll(async () => {
    await lab.teardown();
  });

  it('apply --try rolls back to exactly the previous table and routing when nobody confirms', async () => {
    await cliOk(lab, 'gw', 'apply', '--config', c1);
    const before = await snapshot(lab, 'gw');
    const p = await tryApply(2);
    expect(await snapshot(lab, 'gw')).not.toBe(before);
    const exit = await p.exited;
    expect(exit.exitCode).toBe(1);
    expect(p.stderr()).toMatch(/not confirmed within 2 s: the previous table and routing are back/);
    expect(await snapshot(lab, 'gw')).toBe(before);
  });

  it('nft-mwan confirm keeps the change; the try exits 0', async () => {
    await cliOk(lab, 'gw', 'apply', '--config', c1);
    const p = await tryApply(30);
    const confirmed = await cliOk(lab, 'gw', 'confirm', '--state-dir', stateDir);
    expect(confirmed).toMatch(/confirmed: the change applied by pid \d+ stays/);
    expect((await p.exited).exitCode).toBe(0);
    const r = await runTcpClient(lab, LAN.ns, { target: endpoint(SRV2, 5001), count: 10, concurrency: 5 });
    expect(r.peers).toEqual({ [W1.addr]: 10 });
    // Nothing pending any more.
    expect((await cli(lab, 'gw', 'confirm', '--state-dir', stateDir)).stderr).toMatch(/no try is pending/);
  });

  it('Ctrl-C rolls back at once; a second try while one is pending is refused', async () => {
    await cliOk(lab, 'gw', 'apply', '--config', c1);
    const before = await snapshot(lab, 'gw');
    const p = await tryApply(60);
    const second = await cli(lab, 'gw', 'apply', '--config', c2, '--try', '5', '--state-dir', stateDir);
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toMatch(/another try is pending/);
    p.signal('SIGINT');
    expect((await p.exited).exitCode).toBe(1);
    expect(p.stderr()).toMatch(/interrupted \(SIGINT\)/);
    expect(await snapshot(lab, 'gw')).toBe(before);
  });

  it('a crashed try (SIGKILL) is rolled back by its watchdog at the deadline, and the config applied before is recorded again', async () => {
    await cliOk(lab, 'gw', 'apply', '--config', c1, '--state-dir', stateDir);
    const recorded = () => readFileSync(join(stateDir, 'applied-config'), 'utf8').trim();
    expect(recorded()).toBe(c1);
    const before = await snapshot(lab, 'gw');
    const p = await tryApply(3);
    expect(recorded()).toBe(c2);
    p.signal('SIGKILL');
    await p.exited;
    expect(await snapshot(lab, 'gw')).not.toBe(before);
    await lab.waitFor(async () => (await snapshot(lab, 'gw')) === before, { timeoutMs: 8_000, what: 'the watchdog rollback' });
    // status, explain and stop without --config look at this record: it must name what is installed again.
    await lab.waitFor(() => recorded() === c1, { timeoutMs: 3_000, what: 'the record of the config applied before the try' });
  });

  /** `apply --try` of the daemon's own config file, in the background (by default once it has applied). */
  const tryOnDaemon = async (d: { configPath: string; stateDir: string }, seconds: number, o: { waitForTrial?: boolean } = {}) => {
    const p = lab.spawn('gw', BIN, ['apply', '--config', d.configPath, '--try', String(seconds), '--state-dir', d.stateDir]);
    running.push(p);
    if (o.waitForTrial !== false) await lab.waitFor(() => /applied on trial/.test(p.stderr()), { timeoutMs: 15_000, what: 'the trial apply' });
    return p;
  };
  /** Which WAN addresses the server sees 10 new connections to SRV2 come from. */
  const peersToSrv2 = async () => (await runTcpClient(lab, LAN.ns, { target: endpoint(SRV2, 5001), count: 10, concurrency: 5 })).peers;

  it('the daemon holds its re-applies while a try is pending, and after confirm runs the tried config though the try process is gone', async () => {
    const d = await startDaemon(lab, v1);
    try {
      // The operator edits the daemon's config file and tries it.
      d.writeConfig(v2);
      const p = await tryOnDaemon(d, 30);
      // A state change the daemon would normally apply at once; ifdown answers only once it is applied.
      const ifdown = cli(lab, 'gw', 'ifdown', 'wan2', '--state-dir', d.stateDir);
      await lab.waitFor(() => d.log().some((l) => /a try \(pid \d+\) is pending: re-applies wait/.test(l)), { timeoutMs: 5_000, what: 'the hold' });
      // The terminal is lost; its watchdog stays.
      p.signal('SIGKILL');
      await p.exited;
      expect(await cliOk(lab, 'gw', 'confirm', '--state-dir', d.stateDir)).toMatch(/confirmed: the change applied by pid \d+ stays/);
      await lab.waitFor(() => d.log().some((l) => /re-applies resume/.test(l)), { timeoutMs: 5_000, what: 'the resume' });
      expect((await ifdown).stdout).toMatch(/wan2 is offline/);
      // The daemon re-applied with wan2 out: v1 would leave SRV2 pinned to wan2 with no member left (refused);
      // the tried v2 sends everything through wan1.
      expect(await peersToSrv2()).toEqual({ [W1.addr]: 10 });
      // And it stays on v2 for its next re-apply.
      await cliOk(lab, 'gw', 'ifup', 'wan2', '--state-dir', d.stateDir);
      await d.waitFor('wan2', 'online', 15_000);
      expect(await peersToSrv2()).toEqual({ [W1.addr]: 10 });
    } finally {
      await d.stop();
    }
  });

  it('a try confirmed with no apply held: confirm makes the daemon take the tried config up', async () => {
    const d = await startDaemon(lab, v1);
    try {
      d.writeConfig(v2);
      const p = await tryOnDaemon(d, 30);
      p.signal('SIGKILL');
      await p.exited;
      await cliOk(lab, 'gw', 'confirm', '--state-dir', d.stateDir);
      // The daemon's own next re-apply shows which config it holds: with wan2 out, v1 would refuse SRV2.
      expect(await cliOk(lab, 'gw', 'ifdown', 'wan2', '--state-dir', d.stateDir)).toMatch(/wan2 is offline/);
      expect(await peersToSrv2()).toEqual({ [W1.addr]: 10 });
    } finally {
      await d.stop();
    }
  });

  it('after a rollback the daemon keeps its previous config and warns that the file on disk is the rejected one', async () => {
    const d = await startDaemon(lab, v1);
    try {
      d.writeConfig(v2);
      const p = await tryOnDaemon(d, 2, { waitForTrial: false });
      expect((await p.exited).exitCode).toBe(1);
      expect(p.stderr()).toMatch(/not confirmed within 2 s/);
      await lab.waitFor(
        () =>
          d
            .log()
            .some((l) =>
              /the try of .* was rolled back: the daemon keeps running its previous config \(in memory\); the file on disk is the rejected one/.test(l),
            ),
        {
          timeoutMs: 10_000,
          what: 'the warning',
        },
      );
      // A re-apply of the daemon's own, with wan1 out: v1 pins SRV2 to wan2; the rejected v2 would refuse it.
      expect(await cliOk(lab, 'gw', 'ifdown', 'wan1', '--state-dir', d.stateDir)).toMatch(/wan1 is offline/);
      expect(await peersToSrv2()).toEqual({ [W2.addr]: 10 });
    } finally {
      await d.stop();
    }
  });

  it('Enter on the terminal confirms the try', async () => {
    await cliOk(lab, 'gw', 'apply', '--config', c1);
    // script gives the try a terminal; Enter arrives a few seconds in (buffered by the terminal if early).
    const cmd = `${BIN} apply --config ${c2} --try 12 --state-dir ${stateDir}`;
    const r = await lab.exec('gw', 'sh', ['-c', `(sleep 4; printf '\\n'; sleep 4) | script -qec '${cmd}' /dev/null`], { timeoutMs: 40_000, reject: false });
    expect(r.stdout).toMatch(/applied on trial: press Enter here/);
    expect(r.stdout).not.toMatch(/not confirmed/);
    expect(r.stdout).toMatch(/\bconfirmed\b/);
    expect(r.exitCode).toBe(0);
    const flows = await runTcpClient(lab, LAN.ns, { target: endpoint(SRV2, 5001), count: 10, concurrency: 5 });
    expect(flows.peers).toEqual({ [W1.addr]: 10 });
    expect((await cli(lab, 'gw', 'confirm', '--state-dir', stateDir)).stderr).toMatch(/no try is pending/);
  });

  it.each([
    [
      'the table holds an object a rollback could not recreate',
      async () => void (await lab.exec('gw', 'nft', ['add', 'quota', 'inet', 'nft_mwan', 'q1', '1', 'mbytes'])),
      () => stateDir,
      /cannot try: table inet nft_mwan holds objects a rollback could not recreate exactly \(quota\)/,
    ],
    [
      'the rollback record cannot be written to the state directory',
      async () => undefined,
      () => {
        const dir = mkdtempSync(join(tmpdir(), 'nft-mwan-op-ro-'));
        // try.json cannot be replaced by a file: it is a directory with something in it.
        mkdirSync(join(dir, 'try.json', 'x'), { recursive: true });
        return dir;
      },
      /cannot try: the rollback record cannot be written to the state directory .*; nothing was changed/,
    ],
  ])('refuses a try when %s, with TRY_REFUSED and nothing changed', async (_what, prepare, dir, message) => {
    await cliOk(lab, 'gw', 'apply', '--config', c1);
    await prepare();
    const before = await snapshot(lab, 'gw');
    const r = await cli(lab, 'gw', 'apply', '--config', c2, '--try', '30', '--state-dir', dir());
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.exitCode).toBe(1);
    expect(await snapshot(lab, 'gw')).toBe(before);
  });

  it('explain names the WAN a sticky source is held on, with probability 1, and the next connections go there', async () => {
    const c = configFile(vSticky);
    await cliOk(lab, 'gw', 'apply', '--config', c);
    const ask = async () =>
      JSON.parse(await cliOk(lab, 'gw', 'explain', '--config', c, '--json', '--src', LAN.addr, '--dst', SRV1, '--proto', 'tcp', '--dport', '5001'));
    const fresh = await ask();
    expect(fresh).toMatchObject({ rule: 'srv1', inSync: true, stickyRule: { by: 'src', timeout: 120, entry: null } });
    expect(fresh.candidates.map((x: { interface: string }) => x.interface)).toEqual(['wan1', 'wan2']);
    // One real connection makes the source sticky to whichever WAN it got.
    const first = await runTcpClient(lab, LAN.ns, { target: endpoint(SRV1, 5001), count: 1, concurrency: 1 });
    expect(first.ok).toBe(1);
    const peer = Object.keys(first.peers)[0];
    const wan = peer === W1.addr ? 'wan1' : 'wan2';
    const held = await ask();
    expect(held.candidates).toEqual([expect.objectContaining({ interface: wan, probability: 1 })]);
    expect(held.stickyRule.entry).toMatchObject({ interface: wan, set: `sticky_srv1_${wan}` });
    expect(held.stickyRule.entry.expires).toBeGreaterThan(60);
    expect(held.stickyRule.entry.expires).toBeLessThanOrEqual(120);
    const text = await cliOk(lab, 'gw', 'explain', '--config', c, '--src', LAN.addr, '--dst', SRV1, '--dport', '5001');
    expect(text).toMatch(new RegExp(`goes to: ${wan} \\(${wan}\\) 100\\.0%`));
    expect(text).toMatch(new RegExp(`${LAN.addr.replace(/\./g, '\\.')} is on ${wan} for another \\d+ s`));
    // The kernel agrees: every further connection from that source goes the same way (3:1 would split 20 of them).
    const next = await runTcpClient(lab, LAN.ns, { target: endpoint(SRV1, 5001), count: 20, concurrency: 5 });
    expect(next.peers).toEqual({ [peer as string]: 20 });
    // Another source has no entry: the policy places it.
    const other = JSON.parse(
      await cliOk(lab, 'gw', 'explain', '--config', c, '--json', '--src', '192.168.1.250', '--dst', SRV1, '--proto', 'tcp', '--dport', '5001'),
    );
    expect(other.stickyRule.entry).toBeNull();
    expect(other.candidates).toHaveLength(2);
  });

  it('explain tells where real flows go: pinned, balanced with the configured shares, bypassed', async () => {
    await cliOk(lab, 'gw', 'apply', '--config', c1);
    const ask = async (...args: string[]) => JSON.parse(await cliOk(lab, 'gw', 'explain', '--config', c1, '--json', ...args));
    const pinned = await ask('--src', LAN.addr, '--dst', SRV2, '--proto', 'tcp', '--dport', '5001');
    expect(pinned).toMatchObject({ verdict: 'rule', rule: 'pin_srv2', policy: 'wan2_only', inSync: true });
    expect(pinned.candidates).toEqual([expect.objectContaining({ interface: 'wan2', probability: 1 })]);
    const balanced = await ask('--src', LAN.addr, '--dst', SRV1, '--proto', 'tcp', '--dport', '5001');
    expect(balanced).toMatchObject({ rule: 'default', policy: 'balanced' });
    const share = Object.fromEntries(balanced.candidates.map((c: { interface: string; probability: number }) => [c.interface, c.probability]));
    expect(share).toEqual({ wan1: 0.75, wan2: 0.25 });
    const bypass = await ask('--src', LAN.addr, '--dst', LAN2.addr, '--proto', 'tcp', '--dport', '5001');
    expect(bypass.verdict).toBe('bypass');
    const text = await cliOk(lab, 'gw', 'explain', '--config', c1, '--src', LAN.addr, '--dst', SRV1, '--dport', '5001');
    expect(text).toMatch(/rule "default" is the first that matches/);
    expect(text).toMatch(/wan1 \(wan1\) 75\.0%, wan2 \(wan2\) 25\.0%/);

    // The same flows, sent for real.
    const toSrv2 = await runTcpClient(lab, LAN.ns, { target: endpoint(SRV2, 5001), count: 40, concurrency: 10 });
    expect(toSrv2.peers).toEqual({ [W2.addr]: 40 });
    const toSrv1 = await runTcpClient(lab, LAN.ns, { target: endpoint(SRV1, 5001), count: 400, concurrency: 20 });
    const wan1 = toSrv1.peers[W1.addr] ?? 0;
    expect(toSrv1.ok).toBe(400);
    // 0.75 of 400 within 5 standard deviations.
    expect(Math.abs(wan1 - 300)).toBeLessThan(5 * Math.sqrt(400 * 0.75 * 0.25));
    const toLan2 = await runTcpClient(lab, LAN.ns, { target: endpoint(LAN2.addr, 5001), count: 10, concurrency: 5 });
    // Bypassed: not masqueraded, the LAN2 host sees the LAN host itself.
    expect(toLan2.peers).toEqual({ [LAN.addr]: 10 });
  });

  it('status counts live connections by mark and forwarded bytes per WAN, and --watch keeps redrawing', async () => {
    await cliOk(lab, 'gw', 'apply', '--config', c1);
    const hold = await runTcpClient(lab, LAN.ns, { target: endpoint(SRV2, 5001), count: 8, concurrency: 8 });
    expect(hold.ok).toBe(8);
    const json = JSON.parse(await cliOk(lab, 'gw', 'status', '--json', '--config', c1, '--state-dir', stateDir));
    // The 8 flows to SRV2 are pinned to wan2: their conntrack entries (in TIME_WAIT) carry its mark.
    expect(json.traffic.wan2.connections).toBeGreaterThanOrEqual(8);
    expect(json.traffic.wan2.txBytes).toBeGreaterThan(0);
    expect(json.traffic.wan2.rxBytes).toBeGreaterThan(0);
    const text = await cliOk(lab, 'gw', 'status', '--config', c1, '--state-dir', stateDir);
    expect(text).toMatch(/NAME\s+DEVICE\s+ID\s+MARK\s+TABLE\s+GATEWAY\s+STATE\s+CONNS\s+SHARE\s+RX\s+TX/);
    // Not a terminal: no colour codes. On a terminal (script gives it one): the rows are coloured by state.
    // eslint-disable-next-line no-control-regex -- the check is for the terminal's escape codes (ESC, \x1b)
    expect(text).not.toMatch(/\x1b\[/);
    const tty = await lab.exec('gw', 'script', ['-qec', `${BIN} status --config ${c1} --state-dir ${stateDir}`, '/dev/null']);
    // eslint-disable-next-line no-control-regex -- the check is for the terminal's escape codes (ESC, \x1b)
    expect(tty.stdout).toMatch(/ {2}\x1b\[32mwan1 /);
    const noColour = await lab.exec('gw', 'env', ['NO_COLOR=1', 'script', '-qec', `${BIN} status --config ${c1} --state-dir ${stateDir}`, '/dev/null']);
    // eslint-disable-next-line no-control-regex -- the check is for the terminal's escape codes (ESC, \x1b)
    expect(noColour.stdout).not.toMatch(/\x1b\[3\dm/);
    const watch = lab.spawn('gw', BIN, ['status', '--watch', '0.3', '--json', '--config', c1, '--state-dir', stateDir]);
    running.push(watch);
    await lab.waitFor(() => watch.lines().filter((l) => l.startsWith('{')).length >= 3, { timeoutMs: 10_000, what: 'three frames' });
    await watch.kill();
    expect(JSON.parse(watch.lines()[0] as string).table).toBe('nft_mwan');
  });

  it('refuses a config file others can write, as root, with exit 78 and nothing changed', async () => {
    const before = await snapshot(lab, 'gw');
    const loose = configFile(v1);
    chmodSync(loose, 0o666);
    const r = await cli(lab, 'gw', 'apply', '--config', loose);
    expect(r.exitCode).toBe(78);
    expect(r.stderr).toMatch(/refusing the config file: it is writable by anyone \(mode 666\)/);
    expect(await snapshot(lab, 'gw')).toBe(before);
  });
});
