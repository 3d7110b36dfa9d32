// renderMetrics: exact exposition text for a two-WAN daemon, label escaping, null samples left out, and output
// that a Prometheus parser accepts (HELP and TYPE before each family's samples, every line in the grammar).
import { describe, expect, it } from 'vitest';
import { escapeLabelValue, renderMetrics, type MetricsInput } from '../../src/metrics/prometheus.js';
import { type WanCounters } from '../../src/model/state.js';
import type { DaemonState, InterfaceRecord } from '../../src/model/state.js';

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5);
const iso = (ms: number): string => new Date(ms).toISOString();

function record(over: Partial<InterfaceRecord>): InterfaceRecord {
  return {
    state: 'online',
    tracked: 'online',
    since: iso(T0),
    carrier: true,
    forcedDown: false,
    tracking: true,
    fails: 0,
    goods: 0,
    lossPct: null,
    rttMs: null,
    lastRound: null,
    ...over,
  };
}

function twoWans(): MetricsInput {
  const state: DaemonState = {
    version: 1,
    pid: 4242,
    running: true,
    configPath: '/etc/nft-mwan/config.json',
    startedAt: iso(T0),
    updatedAt: iso(T0 + 60_000),
    // wan2 first: the output is sorted by name, not by insertion order.
    interfaces: {
      wan2: record({ state: 'down', tracked: 'offline', since: iso(T0 + 30_000), carrier: false, forcedDown: true, tracking: false }),
      wan1: record({
        since: iso(T0 + 10_000),
        lossPct: 25,
        rttMs: 12.5,
        lastRound: {
          at: iso(T0 + 59_000),
          ok: true,
          answered: 1,
          lossPct: 25,
          rttMs: 12.5,
          quality: null,
          results: [
            { target: '192.0.2.1', ok: true, rttMs: 12.5, error: null },
            { target: '198.51.100.1', ok: false, rttMs: null, error: 'timeout' },
          ],
        },
      }),
    },
    lastApply: { at: iso(T0 + 5_000), ok: true, error: null },
  };
  return {
    state,
    counters: {
      wan1: { connections: 17, rxBytes: 123456, txBytes: 7890, rxPackets: 100, txPackets: 50 },
      wan2: { connections: 0, rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0 },
    },
    stateChanges: { wan1: 3 },
    now: T0 + 70_000,
  };
}

const EXPECTED = `# HELP nft_mwan_up Whether the nft-mwan daemon is running (1) or not (0).
# TYPE nft_mwan_up gauge
nft_mwan_up 1
# HELP nft_mwan_wan_online Whether the WAN is online (1) or offline or down (0).
# TYPE nft_mwan_wan_online gauge
nft_mwan_wan_online{interface="wan1"} 1
nft_mwan_wan_online{interface="wan2"} 0
# HELP nft_mwan_wan_state The state of the WAN: 1 for the current state, 0 for the others.
# TYPE nft_mwan_wan_state gauge
nft_mwan_wan_state{interface="wan1",state="online"} 1
nft_mwan_wan_state{interface="wan1",state="offline"} 0
nft_mwan_wan_state{interface="wan1",state="down"} 0
nft_mwan_wan_state{interface="wan2",state="online"} 0
nft_mwan_wan_state{interface="wan2",state="offline"} 0
nft_mwan_wan_state{interface="wan2",state="down"} 1
# HELP nft_mwan_wan_forced_down Whether the WAN was taken out of service by nft-mwan ifdown (1) or not (0).
# TYPE nft_mwan_wan_forced_down gauge
nft_mwan_wan_forced_down{interface="wan1"} 0
nft_mwan_wan_forced_down{interface="wan2"} 1
# HELP nft_mwan_wan_carrier Whether the WAN device has carrier (1) or not (0).
# TYPE nft_mwan_wan_carrier gauge
nft_mwan_wan_carrier{interface="wan1"} 1
nft_mwan_wan_carrier{interface="wan2"} 0
# HELP nft_mwan_wan_state_seconds Seconds the WAN has been in its current state.
# TYPE nft_mwan_wan_state_seconds gauge
nft_mwan_wan_state_seconds{interface="wan1"} 60
nft_mwan_wan_state_seconds{interface="wan2"} 40
# HELP nft_mwan_probe_rtt_seconds Round-trip time of the last probe round, in seconds.
# TYPE nft_mwan_probe_rtt_seconds gauge
nft_mwan_probe_rtt_seconds{interface="wan1"} 0.0125
# HELP nft_mwan_probe_loss_ratio Probe loss over the quality window (0 to 1).
# TYPE nft_mwan_probe_loss_ratio gauge
nft_mwan_probe_loss_ratio{interface="wan1"} 0.25
# HELP nft_mwan_probe_target_up Whether the target answered in the last probe round (1) or not (0).
# TYPE nft_mwan_probe_target_up gauge
nft_mwan_probe_target_up{interface="wan1",target="192.0.2.1"} 1
nft_mwan_probe_target_up{interface="wan1",target="198.51.100.1"} 0
# HELP nft_mwan_wan_state_changes_total Changes of the WAN state since the daemon started.
# TYPE nft_mwan_wan_state_changes_total counter
nft_mwan_wan_state_changes_total{interface="wan1"} 3
nft_mwan_wan_state_changes_total{interface="wan2"} 0
# HELP nft_mwan_wan_connections Conntrack entries marked for the WAN.
# TYPE nft_mwan_wan_connections gauge
nft_mwan_wan_connections{interface="wan1"} 17
nft_mwan_wan_connections{interface="wan2"} 0
# HELP nft_mwan_wan_bytes_total Bytes of the connections nft-mwan marked for the WAN, received from it (rx) and sent to it (tx).
# TYPE nft_mwan_wan_bytes_total counter
nft_mwan_wan_bytes_total{interface="wan1",direction="rx"} 123456
nft_mwan_wan_bytes_total{interface="wan1",direction="tx"} 7890
nft_mwan_wan_bytes_total{interface="wan2",direction="rx"} 0
nft_mwan_wan_bytes_total{interface="wan2",direction="tx"} 0
# HELP nft_mwan_wan_packets_total Packets of the connections nft-mwan marked for the WAN, received from it (rx) and sent to it (tx).
# TYPE nft_mwan_wan_packets_total counter
nft_mwan_wan_packets_total{interface="wan1",direction="rx"} 100
nft_mwan_wan_packets_total{interface="wan1",direction="tx"} 50
nft_mwan_wan_packets_total{interface="wan2",direction="rx"} 0
nft_mwan_wan_packets_total{interface="wan2",direction="tx"} 0
# HELP nft_mwan_last_apply_success Whether the last ruleset apply succeeded (1) or failed (0).
# TYPE nft_mwan_last_apply_success gauge
nft_mwan_last_apply_success 1
# HELP nft_mwan_last_apply_timestamp_seconds Unix time of the last ruleset apply, in seconds.
# TYPE nft_mwan_last_apply_timestamp_seconds gauge
nft_mwan_last_apply_timestamp_seconds 1735787050
`;

const LINE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.e+-]+$|^# (HELP|TYPE) /;

/** Fails unless every sample follows HELP and TYPE lines of its own family and every line is in the grammar. */
function checkStructure(text: string): void {
  expect(text.endsWith('\n')).toBe(true);
  const lines = text.slice(0, -1).split('\n');
  const help = new Set<string>();
  const type = new Set<string>();
  const series = new Set<string>();
  for (const line of lines) {
    expect(line).toMatch(LINE);
    const meta = /^# (HELP|TYPE) (\S+) /.exec(line);
    if (meta) {
      const seen = meta[1] === 'HELP' ? help : type;
      expect(seen.has(meta[2]!), `second ${meta[1]} for ${meta[2]}`).toBe(false);
      seen.add(meta[2]!);
      continue;
    }
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0];
    expect(help.has(name), `HELP before ${line}`).toBe(true);
    expect(type.has(name), `TYPE before ${line}`).toBe(true);
    const key = line.slice(0, line.lastIndexOf(' '));
    expect(series.has(key), `duplicate series ${key}`).toBe(false);
    series.add(key);
  }
}

function sampleLines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}

describe('renderMetrics', () => {
  it('renders a two-WAN daemon exactly', () => {
    expect(renderMetrics(twoWans())).toBe(EXPECTED);
  });

  it('renders the same text for the same input (stable order)', () => {
    const a = twoWans();
    const b = twoWans();
    b.state.interfaces = Object.fromEntries(Object.entries(b.state.interfaces).reverse());
    b.counters = Object.fromEntries(Object.entries(b.counters).reverse());
    expect(renderMetrics(b)).toBe(renderMetrics(a));
  });

  it('is accepted by the exposition grammar, with HELP and TYPE before every family', () => {
    checkStructure(renderMetrics(twoWans()));
  });

  it('writes HELP and TYPE for every family even when it has no samples', () => {
    const input = twoWans();
    input.state.interfaces = {};
    input.counters = {};
    input.state.lastApply = null;
    const text = renderMetrics(input);
    checkStructure(text);
    expect(sampleLines(text)).toEqual(['nft_mwan_up 1']);
    expect(text.match(/^# TYPE /gm)).toHaveLength(15);
  });

  it.each([
    ['a backslash', 'a\\b', 'a\\\\b'],
    ['a double quote', 'say "hi"', 'say \\"hi\\"'],
    ['a newline', 'line1\nline2', 'line1\\nline2'],
    ['all three', '\\"\n', '\\\\\\"\\n'],
    ['nothing special', 'https://example.com/x?y=1', 'https://example.com/x?y=1'],
  ])('escapes %s in a label value', (_what, raw, escaped) => {
    expect(escapeLabelValue(raw)).toBe(escaped);
    const input = twoWans();
    input.state.interfaces.wan1!.lastRound!.results = [{ target: raw, ok: true, rttMs: 1, error: null }];
    const text = renderMetrics(input);
    expect(text).toContain(`nft_mwan_probe_target_up{interface="wan1",target="${escaped}"} 1\n`);
    checkStructure(text);
  });

  it('escapes the interface name too', () => {
    const input = twoWans();
    input.state.interfaces = { 'we"ird\\': input.state.interfaces.wan1! };
    expect(renderMetrics(input)).toContain('nft_mwan_wan_online{interface="we\\"ird\\\\"} 1\n');
  });

  it('leaves out null rtt and loss instead of reporting 0', () => {
    const text = renderMetrics(twoWans());
    expect(text).not.toMatch(/^nft_mwan_probe_rtt_seconds\{interface="wan2"\}/m);
    expect(text).not.toMatch(/^nft_mwan_probe_loss_ratio\{interface="wan2"\}/m);
  });

  it('leaves out each null counter sample on its own', () => {
    const input = twoWans();
    const partial: WanCounters = { connections: null, rxBytes: 10, txBytes: null, rxPackets: null, txPackets: 2 };
    input.counters = { wan1: partial };
    const counterLines = sampleLines(renderMetrics(input)).filter((l) => /^nft_mwan_wan_(connections|bytes_total|packets_total)/.test(l));
    expect(counterLines).toEqual([
      'nft_mwan_wan_bytes_total{interface="wan1",direction="rx"} 10',
      'nft_mwan_wan_packets_total{interface="wan1",direction="tx"} 2',
    ]);
  });

  it('leaves out the last apply samples before any apply, and reports a failed one as 0', () => {
    const input = twoWans();
    input.state.lastApply = null;
    expect(renderMetrics(input)).not.toMatch(/^nft_mwan_last_apply/m);
    input.state.lastApply = { at: iso(T0), ok: false, error: 'nft: syntax error' };
    const text = renderMetrics(input);
    expect(text).toContain('\nnft_mwan_last_apply_success 0\n');
    expect(text).toContain(`\nnft_mwan_last_apply_timestamp_seconds ${T0 / 1000}\n`);
  });

  it('reports a stopped daemon as down', () => {
    const input = twoWans();
    input.state.running = false;
    expect(renderMetrics(input)).toContain('\nnft_mwan_up 0\n');
  });

  it('never reports a negative state age when the clock went backwards', () => {
    const input = twoWans();
    input.now = T0;
    expect(renderMetrics(input)).toContain('nft_mwan_wan_state_seconds{interface="wan1"} 0\n');
  });

  it('reports an offline WAN as 0 online and state="offline" 1', () => {
    const input = twoWans();
    input.state.interfaces.wan1!.state = 'offline';
    const lines = sampleLines(renderMetrics(input));
    expect(lines).toContain('nft_mwan_wan_online{interface="wan1"} 0');
    expect(lines.filter((l) => l.startsWith('nft_mwan_wan_state{interface="wan1"'))).toEqual([
      'nft_mwan_wan_state{interface="wan1",state="online"} 0',
      'nft_mwan_wan_state{interface="wan1",state="offline"} 1',
      'nft_mwan_wan_state{interface="wan1",state="down"} 0',
    ]);
  });

  it('gives a WAN with a state per family (track6) one sample per family, with a family label', () => {
    const input = twoWans();
    input.state.interfaces.wan1!.ipv6 = record({ state: 'offline', tracked: 'offline', since: iso(T0 + 20_000), lossPct: 100, rttMs: null, lastRound: null });
    input.stateChanges = { wan1: 0, 'wan1/ipv6': 3 };
    const text = renderMetrics(input);
    checkStructure(text);
    const lines = sampleLines(text);
    expect(lines).toContain('nft_mwan_wan_online{interface="wan1",family="ipv4"} 1');
    expect(lines).toContain('nft_mwan_wan_online{interface="wan1",family="ipv6"} 0');
    expect(lines).toContain('nft_mwan_wan_state{interface="wan1",family="ipv6",state="offline"} 1');
    expect(lines).toContain('nft_mwan_wan_state_changes_total{interface="wan1",family="ipv6"} 3');
    expect(lines).toContain('nft_mwan_probe_loss_ratio{interface="wan1",family="ipv6"} 1');
    expect(lines.some((l) => l.startsWith('nft_mwan_wan_online{interface="wan1"}'))).toBe(false);
    expect(lines).toContain('nft_mwan_wan_online{interface="wan2"} 0');
  });

  it('gives a target listed twice one series', () => {
    const input = twoWans();
    input.state.interfaces.wan1!.lastRound!.results = [
      { target: '192.0.2.1', ok: true, rttMs: 1, error: null },
      { target: '192.0.2.1', ok: false, rttMs: null, error: 'timeout' },
    ];
    const text = renderMetrics(input);
    checkStructure(text);
    expect(sampleLines(text).filter((l) => l.startsWith('nft_mwan_probe_target_up'))).toEqual([
      'nft_mwan_probe_target_up{interface="wan1",target="192.0.2.1"} 1',
    ]);
  });
});
