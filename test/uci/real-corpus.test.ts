// 27 real mwan3 configs (test/uci/fixtures/real, sources in SOURCES.md) through `nft-mwan import-uci`: each imports with
// exit 0 and a valid config that compiles and keeps the mwan3 behaviour it exercises (mwan3 2.12's mwan3.sh / mwan3track are the
// reference); with no interface section at all, a config that balances nothing, as mwan3 does with it.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { compile } from '../../src/compile/compile.js';
import { validateConfig } from '../../src/config/validate.js';
import { EMPTY_FACTS } from '../../src/model/facts.js';
import type { NftMwanConfig } from '../../src/generated/config.js';
import { MwanError } from '../../src/model/errors.js';
import { CORPUS_DEVICES, deviceArgs } from './real-corpus-devices.js';

const root = new URL('./fixtures/real/', import.meta.url).pathname;
const Ajv = createRequire(import.meta.url)('ajv') as typeof import('ajv').default;
const validateBatch = new Ajv({ allErrors: true, strict: false }).compile(
  JSON.parse(readFileSync(new URL('../../schema/nft-batch.schema.json', import.meta.url), 'utf8')),
);

/** Runs `import-uci FILE --device IF=DEV ...` (the corpus run's devices) as the command line would; returns the exit status, stdout and the notes. */
async function importFixture(name: string) {
  let stdout = '';
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  const args = deviceArgs(name);
  try {
    const status = await main(['import-uci', join(root, name, 'mwan3'), ...args], (t) => {
      stdout += t;
      return true;
    });
    return { status, stdout, notes: notesOf(stderr), error: null };
  } catch (error) {
    if (!(error instanceof MwanError)) throw error;
    return { status: error.exitStatus, stdout, notes: notesOf(stderr), error };
  } finally {
    spy.mockRestore();
  }
}

const notesOf = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('nft-mwan: note: '))
    .map((l) => l.slice('nft-mwan: note: '.length));

type Check = (c: NftMwanConfig, notes: string[]) => void;

/** mwan3track's values for unset timing options (these fixtures all set reliability, so it is not here). */
const MWAN3_DEFAULT_TIMING = { timeout: 4, interval: 10, failureInterval: 10, recoveryInterval: 10, down: 5, up: 5, count: 1 };
const weights = (c: NftMwanConfig, policy: string) => Object.fromEntries((c.policies[policy]?.members ?? []).map((m) => [m.interface, m.weight ?? 1]));
const metrics = (c: NftMwanConfig, policy: string) => Object.fromEntries((c.policies[policy]?.members ?? []).map((m) => [m.interface, m.metric ?? 1]));
const rule = (c: NftMwanConfig, name: string) => c.rules?.find((r) => r.name === name);
/** mwan3 (with ip6tables) gives IPv6 these rules match their policy's last resort: imported as globals.ipv6WithoutWan "lastResort". */
const ipv6LastResort = (c: NftMwanConfig, notes: string[], rules: string) => {
  expect(c.globals?.ipv6WithoutWan).toBe('lastResort');
  expect(notes.some((n) => n.startsWith(`rule ${rules}: IPv6 as in mwan3 (with ip6tables)`))).toBe(true);
};
const NO_INTERFACES = 'interfaces: none: mwan3 balances nothing with this config';

const CASES: { name: string; semantics: string; check: Check }[] = [
  {
    name: 'openwrt-default',
    semantics:
      "mwan3track's timing defaults written out, reliability 2 kept; the wanb+wanb6 pair never NATs IPv6; IPv6 with no IPv6 member gets the last resort",
    check: (c, notes) => {
      expect(c.interfaces.wan?.track).toMatchObject({ ...MWAN3_DEFAULT_TIMING, reliability: 2 });
      expect(c.interfaces.wanb).toMatchObject({ family: 'both', nat6: 'none', enabled: false });
      ipv6LastResort(c, notes, 'https, default_rule_v6');
    },
  },
  {
    name: 'romaxa-3wan-ru',
    semantics: 'members naming "wan" (no section) are skipped; policy mts is left empty, so its rule gets the last resort',
    check: (c, notes) => {
      ipv6LastResort(c, notes, 'https');
      expect(notes).toContain('policy mts: member wan1_m1_w2 skipped: interface "wan" has no interface section (mwan3 skips it too)');
      expect(c.policies.mts).toBeUndefined();
      expect(rule(c, 'torrents')?.policy).toBe('unreachable');
    },
  },
  {
    name: 'leonzdev-5-tethers',
    semantics: 'tether0 named by two members: its shares add up (4 of 10); httping_ssl probes https://',
    check: (c, notes) => {
      expect(weights(c, 'tether_lb')).toEqual({ tether0: 4, tether1: 2, tether2: 2, tether3: 2 });
      expect(c.interfaces.tether0?.track?.targets).toEqual(['https://8.8.8.8/', 'https://cloudflarestatus.com/']);
      expect(notes.filter((n) => n.includes('httping_ssl'))).toEqual([]);
    },
  },
  {
    name: 'twotreeszf-3wan',
    semantics: 'an offline WAN re-probed every interval (600 s) in mwan3 is noted; size 56 (the default) is not',
    check: (c, notes) => {
      expect(c.interfaces.wan1?.track).toMatchObject({ interval: 600, recoveryInterval: 5 });
      expect(notes.some((n) => n.startsWith('interface wan1.recovery_interval: ') && n.includes('every 600 s in mwan3'))).toBe(true);
      expect(notes.filter((n) => n.includes('.size'))).toEqual([]);
    },
  },
  {
    name: 'szymczak-policy-default',
    semantics: "use_policy 'default' is the main table; the section named default is kept under another name, unused",
    check: (c, notes) => {
      expect(c.policies.default_policy?.members.length).toBeGreaterThan(1);
      expect(c.rules?.filter((r) => r.policy === 'default').length).toBeGreaterThan(0);
      expect(notes.some((n) => n.startsWith('policy default: kept as "default_policy"'))).toBe(true);
    },
  },
  {
    name: 'bertrandmartel-even-odd',
    semantics: 'even and odd sources (non-contiguous netmask) go to opposite failovers',
    check: (c) => {
      expect(rule(c, 'sticky_even')).toMatchObject({ srcIp: ['0.0.0.0/0.0.0.1'], policy: 'wan_wan2' });
      expect(rule(c, 'sticky_odd')).toMatchObject({ srcIp: ['0.0.0.1/0.0.0.1'], policy: 'wan2_wan' });
    },
  },
  {
    name: 'gltollgate-v4-v6',
    semantics: "every X+X6 pair is one dual-stack WAN that never NATs IPv6; X6's own tracking is its track6 (a state per family)",
    check: (c) => {
      expect(c.globals?.ipv6WithoutWan).toBeUndefined();
      for (const n of ['wan', 'wwan', 'tethering']) expect(c.interfaces[n]).toMatchObject({ family: 'both', nat6: 'none' });
      // wan6: reliability 1, timeout 2, interval 5, down 3, up 8, its four IPv6 targets; wan keeps its four IPv4 ones.
      expect(c.interfaces.wan?.track6).toMatchObject({
        targets: ['2001:4860:4860::8844', '2001:4860:4860::8888', '2620:0:ccd::2', '2620:0:ccc::2'],
        reliability: 1,
        timeout: 2,
        interval: 5,
        down: 3,
        up: 8,
      });
      expect(c.interfaces.wan?.track?.targets).toEqual(['1.1.1.1', '8.8.8.8', '208.67.222.222', '208.67.220.220']);
    },
  },
  {
    name: 'taxiboxx-batman-wwan',
    semantics: 'wwan without track_ip is online while its link is up',
    check: (c) => {
      expect(c.interfaces.wwan?.track).toBeUndefined();
      expect(c.interfaces.bat0?.track?.targets.length).toBeGreaterThan(0);
    },
  },
  {
    name: 'irfan-hostname-httping',
    semantics: 'httping_ssl is an mwan3 option (not "unknown"); IPv6 with no IPv6 member gets the last resort',
    check: (c, notes) => {
      expect(notes.filter((n) => n.includes('httping_ssl'))).toEqual([]);
      expect(c.interfaces.tethering?.track?.method).toBe('ping');
      ipv6LastResort(c, notes, 'https, default_rule_v6');
    },
  },
  {
    name: 'ja16779-sticky-ipset',
    semantics: 'sticky timeouts 600/3600 and ipset rules carried; rt_table_lookup noted with what mwan3 does',
    check: (c, notes) => {
      expect(rule(c, 'default_rule_v4')).toMatchObject({ sticky: true, stickyTimeout: 3600 });
      expect(rule(c, 'DNS')?.set).toBe('dns_servers');
      expect(notes.some((n) => n.startsWith("globals.rt_table_lookup: tables 220 not mapped: mwan3 copies their routes into every WAN's table"))).toBe(true);
    },
  },
  {
    name: 'lodiwifi-check-quality',
    semantics:
      "check_quality judged as mwan3 does (recovery thresholds in every state, per round); keep_failure_interval's re-probe rate noted exactly; size 8 noted",
    check: (c, notes) => {
      // A target is up only under the recovery thresholds, in every state, on each round's probes (mwan3track).
      expect(c.interfaces.wan1?.track?.quality).toMatchObject({ failureLatencyMs: 250, recoveryLatencyMs: 250, window: c.interfaces.wan1?.track?.count });
      expect(notes.some((n) => n.startsWith('interface wan2.keep_failure_interval: ') && n.includes('every 10 s in mwan3 (failure_interval)'))).toBe(true);
      expect(notes).toContain("interface wan1.size: 8: not mapped: nft-mwan's probes send their own payload size");
    },
  },
  {
    name: 'nazreinkaram-r6220-v4v6',
    semantics: 'only wan has a section: every policy is wan alone, wanb_only is its last resort',
    check: (c, notes) => {
      ipv6LastResort(c, notes, 'https, default_rule_v6');
      expect(Object.keys(c.interfaces)).toEqual(['wan']);
      expect(weights(c, 'balanced')).toEqual({ wan: 3 });
      expect(c.policies.wanb_only).toBeUndefined();
      expect(c.interfaces.wan?.track).toMatchObject(MWAN3_DEFAULT_TIMING);
    },
  },
  {
    name: 'mehmetcakir-2wan-lan-gw',
    semantics: 'reliability 2 of 3 targets carried; https (family any) gives IPv6 its last resort',
    check: (c, notes) => {
      expect(c.interfaces.wan2?.track).toMatchObject({ reliability: 2, down: 10, up: 8 });
      ipv6LastResort(c, notes, 'https');
    },
  },
  {
    name: 'aromalct-6wan-baidu',
    semantics: 'the member naming "wan" is skipped: balanced is five WANs of weight 1',
    check: (c, notes) => {
      ipv6LastResort(c, notes, 'https');
      expect(weights(c, 'balanced')).toEqual({ wan2: 1, vwan1: 1, vwan2: 1, vwan3: 1, vwan4: 1 });
    },
  },
  {
    name: 'bh8vyk-4g-travelmate',
    semantics: 'members of wanb/wan6/wanb6 (no sections) skipped; wan gets mwan3 timing defaults',
    check: (c, notes) => {
      ipv6LastResort(c, notes, 'https, default_rule_v6');
      expect(Object.keys(c.interfaces).sort()).toEqual(['trm_wwan', 'wan']);
      expect(c.interfaces.wan?.track).toMatchObject(MWAN3_DEFAULT_TIMING);
      expect(c.policies.wanb_only).toBeUndefined();
    },
  },
  {
    name: 'extvoid-wan-wwan-defaults',
    semantics: 'no timeout/interval: mwan3 probes every 10 s with 4 s; down 6 / up 3 kept',
    check: (c, notes) => {
      ipv6LastResort(c, notes, 'https');
      expect(c.interfaces.wan?.track).toMatchObject({ timeout: 4, interval: 10, down: 6, up: 3 });
    },
  },
  {
    name: 'skyearn-dup-member-baidu',
    semantics: 'wan twice in balanced at one metric: 3 + 1 = 4 against wanb 2',
    check: (c, notes) => {
      ipv6LastResort(c, notes, 'https');
      expect(weights(c, 'balanced')).toEqual({ wan: 4, wanb: 2 });
      expect(c.interfaces.wanb).toMatchObject({ family: 'both', nat6: 'none' });
    },
  },
  {
    name: 'photonicat-3tier-failover',
    semantics: 'three tiers by metric; count (unset) is mwan3 1',
    check: (c) => {
      // Its only rule is IPv4: IPv6 stays on the main table in mwan3 too.
      expect(c.globals?.ipv6WithoutWan).toBeUndefined();
      expect(metrics(c, 'failover')).toEqual({ wan: 1, wwan: 2, wwan_5g: 3 });
      expect(c.interfaces.wan?.track?.count).toBe(1);
    },
  },
  {
    name: 'intellimesh-trailing-ws',
    semantics: 'initial_state offline on both tracked WANs',
    check: (c) => {
      expect([c.interfaces.wan?.initialState, c.interfaces.wwan?.initialState]).toEqual(['offline', 'offline']);
      expect(weights(c, 'balanced')).toEqual({ wwan: 1, wan: 1 });
    },
  },
  {
    name: 'petercheat-wndr3700-sticky60',
    semantics: 'sticky https with timeout 60',
    check: (c, notes) => {
      ipv6LastResort(c, notes, 'https');
      expect(rule(c, 'https')).toMatchObject({ sticky: true, stickyTimeout: 60, destPort: [443] });
    },
  },
  {
    name: 'pj-wwan4-wwan6',
    semantics: "wwan_4+wwan_6 one dual-stack WAN without IPv6 NAT, wwan_6's targets its track6; disabled wan6 leaves wan IPv4-only",
    check: (c) => {
      // wwan_4 carries IPv6: policies without an IPv6 member already give IPv6 their last resort.
      expect(c.globals?.ipv6WithoutWan).toBeUndefined();
      expect(c.interfaces.wwan_4).toMatchObject({ family: 'both', nat6: 'none' });
      expect(c.interfaces.wwan_4?.track6).toMatchObject({
        targets: ['2001:4860:4860::8844', '2001:4860:4860::8888', '2620:0:ccd::2', '2620:0:ccc::2'],
        reliability: 1,
      });
      expect(c.interfaces.wwan_4?.track?.targets).toEqual(['8.8.4.4', '8.8.8.8', '208.67.222.222', '208.67.220.220']);
      expect(c.interfaces.wan?.family).toBeUndefined();
      expect(c.interfaces.wan?.track6).toBeUndefined();
    },
  },
  {
    name: 'mips171-wan-mobile',
    semantics: 'wired metric 1 / LTE metric 5; size 8 noted, max_ttl 60 (the default) not',
    check: (c, notes) => {
      ipv6LastResort(c, notes, 'https, default_rule_v6');
      expect(metrics(c, 'wan_mobile')).toEqual({ wan: 1, mobile: 5 });
      expect(notes.filter((n) => n.includes('max_ttl'))).toEqual([]);
      expect(notes.filter((n) => n.includes('.size')).length).toBe(2);
    },
  },
  {
    name: 'ateos-cellular-backup',
    semantics: 'no timing options: mwan3 defaults on every WAN; disabled wan2 kept disabled',
    check: (c, notes) => {
      ipv6LastResort(c, notes, 'https');
      for (const n of ['wan', 'cellular']) expect(c.interfaces[n]?.track).toMatchObject(MWAN3_DEFAULT_TIMING);
      expect(c.interfaces.wan2?.enabled).toBe(false);
    },
  },
  {
    name: 'mhycy-r300a-anon-rule',
    semantics: 'anonymous rule imported; no down/up: mwan3 5/5',
    check: (c) => {
      // dest 0.0.0.0/0 is IPv4 only: mwan3's IPv6 pass skips the rule, so IPv6 keeps the main table.
      expect(c.globals?.ipv6WithoutWan).toBeUndefined();
      expect(rule(c, '_rule_0_')?.family).toBe('ipv4');
      expect(c.interfaces.wan?.track).toMatchObject({ down: 5, up: 5 });
    },
  },
];

// No interface section: mwan3 balances nothing, and neither does the imported config (compile warns "no interfaces").
const NOTHING_BALANCED: { name: string; semantics: string; check: Check }[] = [
  {
    name: 'gxlclc-globals-only',
    semantics: 'globals only: nothing to balance, and no rule, so IPv6 stays on the main table too',
    check: (c) => {
      expect(c.rules).toEqual([]);
      expect(c.globals?.ipv6WithoutWan).toBeUndefined();
    },
  },
  {
    name: 'nswa-empty-policy',
    semantics: 'the memberless policy of rule default is its last resort: every new connection, IPv4 and IPv6, is unreachable',
    check: (c, notes) => {
      expect(c.rules).toEqual([{ name: 'default', policy: 'unreachable' }]);
      ipv6LastResort(c, notes, 'default');
    },
  },
  {
    name: 'd525-ipset-cn-comments',
    semantics: 'members of wan1/wan2 (no sections) skipped: every rule gets the unreachable last resort, its sets kept, stickiness dropped',
    check: (c, notes) => {
      expect(c.rules?.length).toBeGreaterThan(5);
      for (const r of c.rules ?? []) expect(r).toMatchObject({ policy: 'unreachable' });
      expect(rule(c, 'douyin_wan1')).toMatchObject({ set: 'douyin_cdn', family: 'ipv4' });
      expect(Object.keys(c.sets ?? {})).toContain('douyin_cdn');
      expect(notes).toContain('policy balanced: member wan1_m1 skipped: interface "wan1" has no interface section (mwan3 skips it too)');
      // "tcp udp" and space-separated ports reach iptables-restore unquoted in mwan3, which refuses its whole batch: noted as such.
      expect(rule(c, 'video_wan2')).toBeUndefined();
      expect(notes.some((n) => n.startsWith('rule video_wan2.proto: "tcp udp": mwan3 writes it unquoted') && n.includes('refuses the whole batch'))).toBe(true);
      expect(rule(c, 'gaming_udp')).toMatchObject({ proto: 'udp', destPort: ['27000-28999', 3478, 4379, 4380] });
      expect(notes.some((n) => n.startsWith('rule gaming_udp.dest_port: "27000:28999 3478 4379 4380": mwan3 writes it unquoted'))).toBe(true);
    },
  },
];

describe('import-uci on real mwan3 configs', () => {
  it('covers every fixture of the corpus', () => {
    const fixtures = readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory());
    expect([...CASES.map((c) => c.name), ...NOTHING_BALANCED.map((c) => c.name)].sort()).toEqual(fixtures.map((d) => d.name).sort());
    expect(Object.keys(CORPUS_DEVICES).sort()).toEqual(fixtures.map((d) => d.name).sort());
    // Each is cited: its row in SOURCES.md names the repository, path and commit.
    const sources = readFileSync(join(root, 'SOURCES.md'), 'utf8');
    for (const d of fixtures)
      expect(sources).toMatch(new RegExp(`^\\| ${d.name} \\| \\[[^\\]]+\\]\\(https://github\\.com/[^)]+\\) \\| \`[^\`]+\` \\| \`[0-9a-f]{40}\` \\|`, 'm'));
  });

  it.each(CASES.map((c) => [`${c.name}: ${c.semantics}`, c] as const))('%s', async (_title, c) => {
    const r = await importFixture(c.name);
    expect(r.error?.message ?? null).toBeNull();
    expect(r.status).toBe(0);
    const config = JSON.parse(r.stdout) as NftMwanConfig;
    const v = validateConfig(config);
    expect(v.ok ? [] : v.issues).toEqual([]);
    c.check(config, r.notes);
    // What apply would send, with every WAN's gateway found: a batch libnftables JSON accepts.
    if (!v.ok) return;
    const names = Object.keys(config.interfaces);
    const gateways = (g: string) => Object.fromEntries(names.map((n) => [n, g]));
    const plan = compile(v.config, { ...EMPTY_FACTS, autoGateways: gateways('198.51.100.1'), autoGateways6: gateways('fe80::1') });
    expect(validateBatch(plan.nft), JSON.stringify(validateBatch.errors, null, 1)).toBe(true);
    // IPv6 with no IPv6 WAN, as mwan3 with ip6tables: classified, and every policy holds only its last resort for it.
    if (config.globals?.ipv6WithoutWan === 'lastResort') {
      expect(plan.policies6.map((p) => p.name)).toEqual(plan.policies.map((p) => p.name));
      expect(plan.policies6.every((p) => p.usingLastResort)).toBe(true);
      expect(plan.routing.rules.some((r) => r.family === 6 && r.action === 'unreachable')).toBe(true);
    }
  });

  it.each(NOTHING_BALANCED.map((c) => [`${c.name}: ${c.semantics}`, c] as const))('%s', async (_title, c) => {
    const r = await importFixture(c.name);
    expect(r.error?.message ?? null).toBeNull();
    expect(r.status).toBe(0);
    const config = JSON.parse(r.stdout) as NftMwanConfig;
    expect(config.interfaces).toEqual({});
    expect(r.notes.some((n) => n.startsWith(NO_INTERFACES))).toBe(true);
    const v = validateConfig(config);
    expect(v.ok ? [] : v.issues).toEqual([]);
    c.check(config, r.notes);
    if (!v.ok) return;
    const plan = compile(v.config, EMPTY_FACTS);
    expect(plan.warnings).toContainEqual(expect.stringMatching(/^no interfaces: nothing is balanced/));
    expect(plan.routing.tables).toEqual([]);
    expect(validateBatch(plan.nft), JSON.stringify(validateBatch.errors, null, 1)).toBe(true);
  });
});
