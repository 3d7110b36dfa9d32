// The apply benchmark's pure parts: which config each timed apply installs and which batch the floor re-installs
// (so no timed apply is a no-op), the check of an apply's log, and the `env` wrapper of every timed process.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  applyLogProblem,
  DAEMON_CASE,
  daemonApplyProblem,
  ENV_REMOVED,
  envPrefix,
  FLOOR_CASE,
  roundSteps,
  type Held,
} from '../../scripts/bench/apply-floor.js';

const LABELS = ['lib', 'cli', 'baseline', DAEMON_CASE];

/** Runs `rounds` rounds against two simulated tables, as runApplyFloor does; every step checked against what its table holds. */
function simulate(labels: readonly string[], rounds: number, start: { ctl: Held; daemon: Held }) {
  const table = { ...start };
  let held = { ...start };
  const seen: { round: number; label: string; config: Held; before: Held }[] = [];
  for (let round = 0; round < rounds; round++) {
    const r = roundSteps(labels, round, held);
    for (const s of r.steps) {
      const where = s.label === DAEMON_CASE ? 'daemon' : 'ctl';
      seen.push({ round, label: s.label, config: s.config, before: table[where] });
      table[where] = s.config;
    }
    held = r.held;
    expect(held).toEqual(table);
  }
  return seen;
}

describe('roundSteps', () => {
  it.each([
    { start: { ctl: 0, daemon: 0 } as const, labels: LABELS },
    { start: { ctl: 1, daemon: 0 } as const, labels: LABELS },
    { start: { ctl: 0, daemon: 1 } as const, labels: ['lib', 'cli', DAEMON_CASE] },
  ])('has the floor re-install the batch of the config its table holds then ($start, $labels)', ({ start, labels }) => {
    const floors = simulate(labels, 9, start).filter((s) => s.label === FLOOR_CASE);
    expect(floors).toHaveLength(9);
    for (const f of floors) expect(f.config).toBe(f.before);
  });

  it.each([
    { start: { ctl: 0, daemon: 0 } as const, labels: LABELS },
    { start: { ctl: 1, daemon: 1 } as const, labels: ['lib', 'cli', DAEMON_CASE] },
  ])('has every apply install the other config than its table holds, also right after the floor ($start)', ({ start, labels }) => {
    const all = simulate(labels, 9, start);
    const applies = all.filter((s) => s.label !== FLOOR_CASE);
    expect(applies).toHaveLength(9 * labels.length);
    for (const a of applies) expect(a.config).not.toBe(a.before);
    // An apply right after the floor, in the floor's namespace: the case the old bench timed as a no-op.
    const afterFloor = all.filter((s, i) => i > 0 && all[i - 1]?.label === FLOOR_CASE && s.label !== DAEMON_CASE && s.label !== FLOOR_CASE);
    expect(afterFloor.length).toBeGreaterThan(0);
    for (const a of afterFloor) expect(a.config).not.toBe(a.before);
  });

  it('runs every case and the floor once per round, in an order rotated by one each round', () => {
    const cases = [...LABELS, FLOOR_CASE];
    for (let round = 0; round < 2 * cases.length; round++) {
      const order = roundSteps(LABELS, round, { ctl: 0, daemon: 0 }).steps.map((s) => s.label);
      expect([...order].sort()).toEqual([...cases].sort());
      expect(order[0]).toBe(cases[round % cases.length]);
    }
  });

  it('keeps the daemon namespace apart: its table changes only on daemon steps', () => {
    const r = roundSteps(['lib', 'cli'], 0, { ctl: 0, daemon: 1 });
    expect(r.held.daemon).toBe(1);
    expect(r.steps.map((s) => s.config)).toEqual([1, 0, 0]);
  });
});

describe('applyLogProblem', () => {
  it('refuses an apply that found its table already at its plan', () => {
    expect(applyLogProblem('nft-mwan: info: already up to date (table inet nft-mwan, 4 ip rules, 3 routes)\n')).toMatch(/already up to date/);
  });
  it('refuses a log without an applied: line (run with -q, or nothing installed)', () => {
    expect(applyLogProblem('')).toMatch(/no "applied:" line/);
    expect(applyLogProblem('nft-mwan: warn: something else\n')).toMatch(/no "applied:" line/);
  });
  it('takes an apply that committed and verified a change', () => {
    expect(
      applyLogProblem('nft-mwan: info: applied: table inet nft-mwan updated in one transaction (changed chains only) and verified; 0 routing changes\n'),
    ).toBeNull();
  });
});

describe('daemonApplyProblem', () => {
  const cli = 'nft-mwan: info: the daemon (pid 4242) reloaded /tmp/x/daemon.json and applied it with its live WAN states\n';
  const applied =
    'nft-mwan: info: reload: config /tmp/x/daemon.json loaded (3 interfaces)\nnft-mwan: info: applied: table inet nft-mwan updated; 0 routing changes\n';
  it('takes a reload the daemon applied', () => {
    expect(daemonApplyProblem(cli, applied)).toBeNull();
  });
  it('refuses an apply that did not go through the daemon', () => {
    expect(daemonApplyProblem('nft-mwan: info: applied: table inet nft-mwan replaced in one transaction and verified\n', applied)).toMatch(/did not report/);
  });
  it('refuses a reload that changed nothing', () => {
    expect(daemonApplyProblem(cli, 'nft-mwan: info: already up to date (table inet nft-mwan, 4 ip rules, 3 routes)\n')).toMatch(
      /daemon's log.*already up to date/,
    );
  });
});

describe('envPrefix', () => {
  it('removes NODE_EXTRA_CA_CERTS from every timed process', () => {
    expect(ENV_REMOVED).toContain('NODE_EXTRA_CA_CERTS');
  });
  it('unsets the removed variables, then sets the others', () => {
    expect(envPrefix(['NODE_EXTRA_CA_CERTS'], { NFT_MWAN_NFT: 'lib' })).toEqual(['-u', 'NODE_EXTRA_CA_CERTS', 'NFT_MWAN_NFT=lib']);
    expect(envPrefix([], {})).toEqual([]);
  });
  it('makes env run the command without the removed variable and with the set one', () => {
    const out = execFileSync(
      'env',
      [
        ...envPrefix(ENV_REMOVED, { NFT_MWAN_NFT: 'cli' }),
        process.execPath,
        '-p',
        'JSON.stringify([process.env.NODE_EXTRA_CA_CERTS ?? null, process.env.NFT_MWAN_NFT])',
      ],
      { env: { ...process.env, NODE_EXTRA_CA_CERTS: '/nonexistent/bench-test.pem' }, encoding: 'utf8' },
    );
    expect(JSON.parse(out)).toEqual([null, 'cli']);
  });
});
