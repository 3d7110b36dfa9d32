// Every default value of the config, in one place: config/normalize.ts applies them once, the schema documents them.

/** Globals, members and policies. */
export const DEFAULTS = {
  table: 'nft_mwan',
  markMask: 0x3f00,
  routeTableBase: 1000,
  rulePriority: 1000,
  routeProtocol: 77,
  metric: 1,
  weight: 1,
  lastResort: 'unreachable',
  mode: 'random',
  hookTimeout: 10,
  metricsInterval: 15,
  stickyTimeout: 600,
  stickyBy: 'src',
  /** Interfaces carry IPv4 unless they say otherwise; rules match any family; every protocol. */
  family: 'ipv4',
  ruleFamily: 'any',
  proto: 'all',
  initialState: 'online',
  nat: 'masquerade',
  nat6: 'masquerade',
  enabled: true,
  /** `nft-mwan use WAN`: the command runs with group id useGidBase + the WAN's id. */
  useGidBase: 0x7f000000,
  /** IPv6 with no IPv6 WAN: the main table routes it (mwan3 with ip6tables gives it the policies' last resorts). */
  ipv6WithoutWan: 'main',
} as const;

/** Defaults for `track` (documented in the schema and docs/nft-mwan.md). */
export const TRACK_DEFAULTS = {
  method: 'ping',
  reliability: 1,
  count: 1,
  timeout: 1,
  interval: 2,
  down: 3,
  up: 3,
  quality: { failureLatencyMs: 1000, failureLossPct: 40, recoveryLatencyMs: 500, recoveryLossPct: 10, window: 10 },
} as const;
