// Engine hardening in the lab: one apply at a time, no half-applied state under nft faults or kill -9, foreign tables and named route protocols left alone.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Lab, type BackgroundProcess, type ExecResult } from '../../lab/netns.js';
import { nftStandIn, SUBSETS, variant, withNftStandIn } from '../../lab/nft-faults.js';
import { buildMultiWan, LAB_NET } from '../../lab/topology.js';
import { describeLab } from '../../lab/vitest.js';
import { BIN, cli, cliOk, configFile, snapshot } from './helpers.js';

const W1 = LAB_NET.wan[1];
describeLab('engine hardening', () => {
  const lab = new Lab();
  const work = mkdtempSync(join(tmpdir(), 'nft-mwan-harden-'));
  const stateDir = join(work, 'state');
  const marker = join(work, 'committed');
  const stubBin = nftStandIn(work, marker, { hangS: 30, sleepS: 3 });
  const configs = SUBSETS.map((wans, n) => configFile(variant(n, wans)));
  const running: BackgroundProcess[] = [];

  /** nft-mwan with the stand-in nft first in PATH (run as a command: these faults are the command's). */
  const withStandIn = (mode: string, ...args: string[]) => {
    const [env, words] = withNftStandIn(stubBin, mode);
    return [env, ...words, BIN, ...args];
  };
  const runStandIn = (mode: string, ...args: string[]): Promise<ExecResult> => {
    const [file, ...rest] = withStandIn(mode, ...args) as [string, ...string[]];
    return lab.exec('gw', file, rest, { timeoutMs: 60_000, reject: false });
  };
  /** Which config's table is installed (by its policy chain), or null. */
  const installed = async (): Promise<number | null> => {
    const r = await lab.exec('gw', 'nft', ['list', 'table', 'inet', 'nft_mwan'], { reject: false });
    const m = /chain policy_p(\d+)/.exec(r.stdout);
    return m?.[1] === undefined ? null : Number(m[1]);
  };
  /** Applying config n reports nothing to do: whatever a previous command left is n's plan whole. */
  const expectUpToDate = async (n: number) => {
    const r = await cli(lab, 'gw', 'apply', '--config', configs[n] as string, '--state-dir', stateDir);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/already up to date/);
  };

  beforeAll(async () => {
    await buildMultiWan(lab, { wans: 3 });
  }, 60_000);

  afterEach(async () => {
    for (const p of running.splice(0)) await p.kill();
    rmSync(marker, { force: true });
    await cli(lab, 'gw', 'stop', '--config', configs[0] as string, '--state-dir', stateDir);
  });

  afterAll(async () => {
    await lab.teardown();
    rmSync(work, { recursive: true, force: true });
  });

  it('ten parallel applies of different configs leave the table and routing of one config, the last to finish, in 5 of 5 rounds', async () => {
    for (let round = 0; round < 5; round++) {
      const order: number[] = [];
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          cli(lab, 'gw', 'apply', '--config', configs[(i + round) % configs.length] as string, '--state-dir', stateDir).then((r) => {
            order.push((i + round) % configs.length);
            return r;
          }),
        ),
      );
      // Every one of them ran whole: each exit status 0 is true.
      expect(results.map((r) => r.exitCode)).toEqual(Array(10).fill(0));
      const last = order.at(-1) as number;
      expect(await installed()).toBe(last);
      await expectUpToDate(last);
      expect(existsSync(join(stateDir, 'apply-intent.json'))).toBe(false);
    }
  }, 240_000);

  it('of two apply --try started together exactly one is pending; the other is refused (TRY_REFUSED)', async () => {
    await cliOk(lab, 'gw', 'apply', '--config', configs[0] as string, '--state-dir', stateDir);
    const tries = [1, 2].map((n) => lab.spawn('gw', BIN, ['apply', '--config', configs[n] as string, '--try', '30', '--state-dir', stateDir]));
    running.push(...tries);
    await lab.waitFor(() => tries.every((p) => !p.running || /applied on trial/.test(p.stderr())), { timeoutMs: 30_000, what: 'both tries to decide' });
    const refused = tries.filter((p) => !p.running);
    const pending = tries.filter((p) => p.running);
    expect(refused).toHaveLength(1);
    expect(pending).toHaveLength(1);
    expect((await (refused[0] as BackgroundProcess).exited).exitCode).toBe(1);
    expect((refused[0] as BackgroundProcess).stderr()).toMatch(/another try is pending/);
    // The pending one is what is installed, and it rolls back on Ctrl-C.
    const n = tries.indexOf(pending[0] as BackgroundProcess) + 1;
    expect(await installed()).toBe(n);
    await (pending[0] as BackgroundProcess).kill();
    await lab.waitFor(async () => (await installed()) === 0, { timeoutMs: 15_000, what: 'the rollback to config 0' });
    await expectUpToDate(0);
  }, 90_000);

  it('nft exiting 1 after committing: the apply finishes the routing and says so; the new config is installed whole', async () => {
    await cliOk(lab, 'gw', 'apply', '--config', configs[0] as string, '--state-dir', stateDir);
    const r = await runStandIn('fail', 'apply', '--config', configs[2] as string, '--state-dir', stateDir);
    expect(existsSync(marker)).toBe(true);
    expect(r.stderr).not.toMatch(/nothing was changed/);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/nft failed after committing/);
    expect(await installed()).toBe(2);
    await expectUpToDate(2);
  }, 60_000);

  it('nft hanging past its timeout after committing: killed, the table read back, the routing finished', async () => {
    await cliOk(lab, 'gw', 'apply', '--config', configs[0] as string, '--state-dir', stateDir);
    const r = await runStandIn('hang', 'apply', '--config', configs[2] as string, '--state-dir', stateDir);
    expect(existsSync(marker)).toBe(true);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/nft failed after committing .*did not finish within/);
    await expectUpToDate(2);
  }, 60_000);

  it('a CLI killed -9 between the nft commit and the routing leaves an intent the next command finishes', async () => {
    await cliOk(lab, 'gw', 'apply', '--config', configs[0] as string, '--state-dir', stateDir);
    const [file, ...rest] = withStandIn('sleep-after', 'apply', '--config', configs[2] as string, '--state-dir', stateDir) as [string, ...string[]];
    const p = lab.spawn('gw', file, rest);
    running.push(p);
    await lab.waitFor(() => existsSync(marker), { timeoutMs: 20_000, what: 'the stand-in nft to commit' });
    process.kill(p.pid, 'SIGKILL');
    await p.exited;
    expect(existsSync(join(stateDir, 'apply-intent.json'))).toBe(true);
    // Mixed right now: config 2's table (wan1 gone from it), config 0's routing (wan1's rules still there).
    expect(await installed()).toBe(2);
    const before = await snapshot(lab, 'gw');
    expect(before).toMatch(/lookup 1001/);
    const r = await cli(lab, 'gw', 'apply', '--config', configs[2] as string, '--state-dir', stateDir);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/interrupted .* was finished/);
    // The repair did the routing: the apply after it found nothing to do.
    expect(r.stderr).toMatch(/already up to date/);
    expect(existsSync(join(stateDir, 'apply-intent.json'))).toBe(false);
  }, 60_000);

  it('a CLI killed -9 before the nft commit leaves an intent the next command rolls back', async () => {
    await cliOk(lab, 'gw', 'apply', '--config', configs[0] as string, '--state-dir', stateDir);
    const [file, ...rest] = withStandIn('sleep-before', 'apply', '--config', configs[1] as string, '--state-dir', stateDir) as [string, ...string[]];
    const p = lab.spawn('gw', file, rest);
    running.push(p);
    await lab.waitFor(() => existsSync(marker), { timeoutMs: 20_000, what: 'the stand-in nft to start' });
    process.kill(p.pid, 'SIGKILL');
    await p.exited;
    // Config 1's routing for wan3 went in before the transaction that never came.
    expect((await lab.ip('gw', ['rule', 'show'])).stdout).toMatch(/lookup 1003/);
    const r = await cli(lab, 'gw', 'apply', '--config', configs[0] as string, '--state-dir', stateDir);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/interrupted .* was rolled back/);
    expect(r.stderr).toMatch(/already up to date/);
  }, 60_000);

  it('a foreign table named in globals.table (fw4) is neither replaced by apply or apply --try nor deleted by stop', async () => {
    await lab.nft(
      'gw',
      'table inet fw4 {\n set lan_hosts { type ipv4_addr; elements = { 192.168.10.2 } }\n chain input { type filter hook input priority 0; policy accept; }\n}\n',
    );
    const foreign = configFile(variant(9, ['wan1', 'wan2'], { table: 'fw4' }));
    try {
      const table = async () => (await lab.exec('gw', 'nft', ['list', 'table', 'inet', 'fw4'])).stdout;
      const original = await table();
      for (const args of [['apply'], ['apply', '--try', '30'], ['stop']]) {
        const r = await cli(lab, 'gw', ...args, '--config', foreign, '--state-dir', stateDir);
        expect(r.exitCode).toBe(1);
        expect(r.stderr).toMatch(/table inet fw4 exists and was not made by nft-mwan/);
        expect(await table()).toBe(original);
      }
      expect((await lab.ip('gw', ['rule', 'show'])).stdout).not.toMatch(/fwmark/);
    } finally {
      await lab.exec('gw', 'nft', ['delete', 'table', 'inet', 'fw4'], { reject: false });
    }
  }, 60_000);

  it('routeProtocol 16 (named dhcp): rules are recognised as owned, and stop leaves a foreign proto dhcp route alone', async () => {
    const dhcp = configFile(variant(7, ['wan1', 'wan2'], { routeProtocol: 16 }));
    await lab.ip('gw', ['route', 'add', '203.0.113.0/24', 'via', W1.gateway, 'dev', W1.dev, 'table', '300', 'proto', 'dhcp']);
    try {
      await cliOk(lab, 'gw', 'apply', '--config', dhcp, '--state-dir', stateDir);
      const owned = (await lab.ip('gw', ['rule', 'show'])).stdout.split('\n').filter((l) => /proto dhcp/.test(l));
      expect(owned.length).toBeGreaterThan(0);
      // Its own rules read back as its own: nothing to do.
      const again = await cli(lab, 'gw', 'apply', '--config', dhcp, '--state-dir', stateDir);
      expect(again.stderr).toMatch(/already up to date/);
      const stopped = await cli(lab, 'gw', 'stop', '--config', dhcp, '--state-dir', stateDir);
      expect(stopped.exitCode).toBe(0);
      expect(stopped.stderr).toMatch(new RegExp(`${owned.length} ip rules`));
      expect((await lab.ip('gw', ['rule', 'show'])).stdout).not.toMatch(/proto dhcp/);
      expect((await lab.ip('gw', ['route', 'show', 'table', '300'])).stdout).toMatch(/203\.0\.113\.0\/24 via .* proto dhcp/);
    } finally {
      await lab.ip('gw', ['route', 'del', '203.0.113.0/24', 'table', '300'], { reject: false });
    }
  }, 60_000);
});
