// The daemon's state and the per-WAN counters as Prometheus text exposition format 0.0.4 (pure: the clock is passed in).
import type { DaemonState, WanCounters } from '../model/state.js';
import { key6 } from '../model/tracker-keys.js';

export interface MetricsInput {
  state: DaemonState;
  /** Per interface; a null value means "not known" and its sample is left out rather than reported as 0. */
  counters: Record<string, WanCounters>;
  /** Transitions of the interface's state since the daemon started. */
  stateChanges: Record<string, number>;
  /** Wall clock, ms. */
  now: number;
}

type Labels = Readonly<Record<string, string>>;

interface Sample {
  labels: Labels;
  value: number;
}

interface Family {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  samples: Sample[];
}

const STATES = ['online', 'offline', 'down'] as const;

export function renderMetrics(input: MetricsInput): string {
  const { state, counters, stateChanges, now } = input;
  // Sorted so two scrapes of the same state read the same, whatever order the daemon built its records in.
  const wans = Object.entries(state.interfaces).sort(([a], [b]) => byCodeUnit(a, b));
  const counted = Object.entries(counters).sort(([a], [b]) => byCodeUnit(a, b));

  // A WAN with a state per family (track6) gives one sample per family, told apart by a family label.
  const views = wans.flatMap(([name, r]): [Labels, DaemonState['interfaces'][string], string][] =>
    r.ipv6
      ? [
          [{ interface: name, family: 'ipv4' }, r, name],
          [{ interface: name, family: 'ipv6' }, r.ipv6, key6(name)],
        ]
      : [[{ interface: name }, r, name]],
  );
  const perWan = (fn: (wan: Labels, r: DaemonState['interfaces'][string], key: string) => Sample[]): Sample[] =>
    views.flatMap(([wan, r, key]) => fn(wan, r, key));
  const perCounted = (fn: (name: string, c: WanCounters) => Sample[]): Sample[] => counted.flatMap(([name, c]) => fn(name, c));
  const one = (labels: Labels, value: number | null): Sample[] => (value == null || Number.isNaN(value) ? [] : [{ labels, value }]);
  const flag = (b: boolean): number => (b ? 1 : 0);

  const lastApply = state.lastApply;
  const families: Family[] = [
    {
      name: 'nft_mwan_up',
      type: 'gauge',
      help: 'Whether the nft-mwan daemon is running (1) or not (0).',
      samples: [{ labels: {}, value: flag(state.running) }],
    },
    {
      name: 'nft_mwan_wan_online',
      type: 'gauge',
      help: 'Whether the WAN is online (1) or offline or down (0).',
      samples: perWan((wan, r) => [{ labels: wan, value: flag(r.state === 'online') }]),
    },
    {
      name: 'nft_mwan_wan_state',
      type: 'gauge',
      help: 'The state of the WAN: 1 for the current state, 0 for the others.',
      samples: perWan((wan, r) => STATES.map((s) => ({ labels: { ...wan, state: s }, value: flag(r.state === s) }))),
    },
    {
      name: 'nft_mwan_wan_forced_down',
      type: 'gauge',
      help: 'Whether the WAN was taken out of service by nft-mwan ifdown (1) or not (0).',
      samples: perWan((wan, r) => [{ labels: wan, value: flag(r.forcedDown) }]),
    },
    {
      name: 'nft_mwan_wan_carrier',
      type: 'gauge',
      help: 'Whether the WAN device has carrier (1) or not (0).',
      samples: perWan((wan, r) => [{ labels: wan, value: flag(r.carrier) }]),
    },
    {
      name: 'nft_mwan_wan_state_seconds',
      type: 'gauge',
      help: 'Seconds the WAN has been in its current state.',
      // Clamped at 0: a clock stepped backwards must not report a negative age.
      samples: perWan((wan, r) => one(wan, Math.max(0, (now - Date.parse(r.since)) / 1000))),
    },
    {
      name: 'nft_mwan_probe_rtt_seconds',
      type: 'gauge',
      help: 'Round-trip time of the last probe round, in seconds.',
      samples: perWan((wan, r) => one(wan, r.rttMs == null ? null : r.rttMs / 1000)),
    },
    {
      name: 'nft_mwan_probe_loss_ratio',
      type: 'gauge',
      help: 'Probe loss over the quality window (0 to 1).',
      samples: perWan((wan, r) => one(wan, r.lossPct == null ? null : r.lossPct / 100)),
    },
    {
      name: 'nft_mwan_probe_target_up',
      type: 'gauge',
      help: 'Whether the target answered in the last probe round (1) or not (0).',
      samples: perWan((wan, r) => {
        // A target listed twice would give two samples of one series, which a scraper rejects: the first one counts.
        const seen = new Set<string>();
        return (r.lastRound?.results ?? []).flatMap((p) => {
          if (seen.has(p.target)) return [];
          seen.add(p.target);
          return [{ labels: { ...wan, target: p.target }, value: flag(p.ok) }];
        });
      }),
    },
    {
      name: 'nft_mwan_wan_state_changes_total',
      type: 'counter',
      help: 'Changes of the WAN state since the daemon started.',
      samples: perWan((wan, _r, key) => [{ labels: wan, value: stateChanges[key] ?? 0 }]),
    },
    {
      name: 'nft_mwan_wan_connections',
      type: 'gauge',
      help: 'Conntrack entries marked for the WAN.',
      samples: perCounted((name, c) => one({ interface: name }, c.connections)),
    },
    {
      name: 'nft_mwan_wan_bytes_total',
      type: 'counter',
      help: 'Bytes of the connections nft-mwan marked for the WAN, received from it (rx) and sent to it (tx).',
      samples: perCounted((name, c) => [...one({ interface: name, direction: 'rx' }, c.rxBytes), ...one({ interface: name, direction: 'tx' }, c.txBytes)]),
    },
    {
      name: 'nft_mwan_wan_packets_total',
      type: 'counter',
      help: 'Packets of the connections nft-mwan marked for the WAN, received from it (rx) and sent to it (tx).',
      samples: perCounted((name, c) => [...one({ interface: name, direction: 'rx' }, c.rxPackets), ...one({ interface: name, direction: 'tx' }, c.txPackets)]),
    },
    {
      name: 'nft_mwan_last_apply_success',
      type: 'gauge',
      help: 'Whether the last ruleset apply succeeded (1) or failed (0).',
      samples: lastApply ? [{ labels: {}, value: flag(lastApply.ok) }] : [],
    },
    {
      name: 'nft_mwan_last_apply_timestamp_seconds',
      type: 'gauge',
      help: 'Unix time of the last ruleset apply, in seconds.',
      samples: lastApply ? one({}, Date.parse(lastApply.at) / 1000) : [],
    },
  ];

  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) lines.push(`${f.name}${formatLabels(s.labels)} ${formatValue(s.value)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Label values escape backslash, double quote and newline (exposition format 0.0.4). */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes backslash and newline only. */
function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
