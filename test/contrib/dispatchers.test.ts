// The network managers' hooks: each run as its dispatcher runs it, with a fake nft-mwan that records its calls.
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const contrib = new URL('../../contrib/', import.meta.url).pathname;
const HELPER = join(contrib, 'dispatch/nft-mwan-dispatch');
const NETWORKD = join(contrib, 'networkd-dispatcher/nft-mwan');
const NM = join(contrib, 'NetworkManager/90-nft-mwan');
const IFUPDOWN = join(contrib, 'ifupdown/nft-mwan');
const HOOKS = [HELPER, NETWORKD, NM, IFUPDOWN];

// wan1 (IPv4) and wan1_6 (IPv6) share eth1; wan2 is a PPPoE link; eth3 carries no WAN.
const CONFIG = {
  interfaces: {
    wan1: { device: 'eth1', gateway: '198.51.100.1' },
    wan1_6: { device: 'eth1', family: 'ipv6', gateway6: '2001:db8::1' },
    wan2: { device: 'ppp0', gateway: 'auto' },
    vpn: { device: 'wg0', gateway: '203.0.113.1' },
  },
  policies: {},
  rules: [],
};

let dir = '';
let log = '';
let config = '';
let failingDir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nft-mwan-dispatch-'));
  log = join(dir, 'calls.log');
  config = join(dir, 'config.json');
  await writeFile(config, JSON.stringify(CONFIG));
  // The fake nft-mwan, first in PATH: one line per call with its arguments.
  await writeFile(join(dir, 'nft-mwan'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\n`);
  await chmod(join(dir, 'nft-mwan'), 0o755);
  // One whose daemon is not running: ifup fails.
  failingDir = join(dir, 'failing');
  await run('mkdir', [failingDir]);
  await writeFile(join(failingDir, 'nft-mwan'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\necho "nft-mwan: the daemon is not running" >&2\nexit 1\n`);
  await chmod(join(failingDir, 'nft-mwan'), 0o755);
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs a hook with only the given arguments and environment (plus PATH and the test's config and helper). */
async function hook(script: string, args: string[], env: Record<string, string>, o: { bin?: string; config?: string; helper?: string } = {}) {
  await rm(log, { force: true });
  const r = await run(script, args, {
    env: {
      PATH: `${o.bin ?? dir}:${dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin`,
      NFT_MWAN_CONFIG: o.config ?? config,
      NFT_MWAN_DISPATCH: o.helper ?? HELPER,
      ...env,
    },
  });
  const calls = await readFile(log, 'utf8').then(
    (t) => t.split('\n').filter(Boolean),
    () => [] as string[],
  );
  return { calls, stderr: r.stderr };
}

describe('networkd-dispatcher: no arguments, $IFACE and $STATE (from the directory it is installed in)', () => {
  it.each<[string, Record<string, string>, string[]]>([
    [
      'routable on eth1 brings up both WANs on eth1',
      { IFACE: 'eth1', STATE: 'routable', OperationalState: 'routable', AdministrativeState: 'configured' },
      ['ifup wan1', 'ifup wan1_6'],
    ],
    ['off on ppp0 takes wan2 down', { IFACE: 'ppp0', STATE: 'off', OperationalState: 'off', AdministrativeState: 'linger' }, ['ifdown wan2']],
    [
      'no-carrier on eth1 takes its WANs down',
      { IFACE: 'eth1', STATE: 'no-carrier', OperationalState: 'no-carrier', AdministrativeState: 'configured' },
      ['ifdown wan1', 'ifdown wan1_6'],
    ],
    ['dormant on wg0 takes vpn down', { IFACE: 'wg0', STATE: 'dormant', OperationalState: 'dormant', AdministrativeState: 'configured' }, ['ifdown vpn']],
    [
      'routable on eth3, which carries no WAN, does nothing',
      { IFACE: 'eth3', STATE: 'routable', OperationalState: 'routable', AdministrativeState: 'configured' },
      [],
    ],
    ['degraded (DHCP still running) does nothing', { IFACE: 'eth1', STATE: 'degraded', OperationalState: 'degraded', AdministrativeState: 'configuring' }, []],
    [
      'configured (an administrative state) does nothing',
      { IFACE: 'eth1', STATE: 'configured', OperationalState: 'routable', AdministrativeState: 'configured' },
      [],
    ],
  ])('%s', async (_name, env, expected) => {
    expect((await hook(NETWORKD, [], env)).calls).toEqual(expected);
  });
});

describe('NetworkManager dispatcher: $1 the interface, $2 the action, DEVICE_IP_IFACE / VPN_IP_IFACE', () => {
  it.each<[string, string[], Record<string, string>, string[]]>([
    [
      'up on eth1 brings up both WANs on eth1',
      ['eth1', 'up'],
      { DEVICE_IFACE: 'eth1', DEVICE_IP_IFACE: 'eth1', CONNECTION_ID: 'Wired 1', NM_DISPATCHER_ACTION: 'up' },
      ['ifup wan1', 'ifup wan1_6'],
    ],
    [
      'down on eth1 takes them down',
      ['eth1', 'down'],
      { DEVICE_IFACE: 'eth1', DEVICE_IP_IFACE: 'eth1', NM_DISPATCHER_ACTION: 'down' },
      ['ifdown wan1', 'ifdown wan1_6'],
    ],
    [
      'up of a modem uses its IP interface ppp0, not ttyUSB0',
      ['ttyUSB0', 'up'],
      { DEVICE_IFACE: 'ttyUSB0', DEVICE_IP_IFACE: 'ppp0', NM_DISPATCHER_ACTION: 'up' },
      ['ifup wan2'],
    ],
    [
      'vpn-up uses the VPN interface, not the device under it',
      ['wg0', 'vpn-up'],
      { DEVICE_IFACE: 'eth1', DEVICE_IP_IFACE: 'eth1', VPN_IP_IFACE: 'wg0', NM_DISPATCHER_ACTION: 'vpn-up' },
      ['ifup vpn'],
    ],
    [
      'vpn-down takes the VPN WAN down',
      ['wg0', 'vpn-down'],
      { DEVICE_IFACE: 'eth1', DEVICE_IP_IFACE: 'eth1', VPN_IP_IFACE: 'wg0', NM_DISPATCHER_ACTION: 'vpn-down' },
      ['ifdown vpn'],
    ],
    ['up on eth3, which carries no WAN, does nothing', ['eth3', 'up'], { DEVICE_IFACE: 'eth3', DEVICE_IP_IFACE: 'eth3', NM_DISPATCHER_ACTION: 'up' }, []],
    ['dhcp4-change does nothing', ['eth1', 'dhcp4-change'], { DEVICE_IFACE: 'eth1', DEVICE_IP_IFACE: 'eth1', NM_DISPATCHER_ACTION: 'dhcp4-change' }, []],
    [
      'connectivity-change (no interface) does nothing',
      ['', 'connectivity-change'],
      { CONNECTIVITY_STATE: 'FULL', NM_DISPATCHER_ACTION: 'connectivity-change' },
      [],
    ],
    ['hostname does nothing', ['none', 'hostname'], { NM_DISPATCHER_ACTION: 'hostname' }, []],
    ['pre-up does nothing', ['eth1', 'pre-up'], { DEVICE_IFACE: 'eth1', DEVICE_IP_IFACE: 'eth1', NM_DISPATCHER_ACTION: 'pre-up' }, []],
  ])('%s', async (_name, args, env, expected) => {
    expect((await hook(NM, args, env)).calls).toEqual(expected);
  });
});

describe('ifupdown: run-parts, no arguments, $IFACE $MODE $PHASE', () => {
  const base = { LOGICAL: 'eth1', ADDRFAM: 'inet', METHOD: 'dhcp', VERBOSITY: '0' };
  it.each<[string, Record<string, string>, string[]]>([
    ['if-up.d (start/post-up) on eth1 brings its WANs up', { ...base, IFACE: 'eth1', MODE: 'start', PHASE: 'post-up' }, ['ifup wan1', 'ifup wan1_6']],
    [
      'if-post-down.d (stop/post-down) on ppp0 takes wan2 down',
      { ...base, IFACE: 'ppp0', LOGICAL: 'dsl-provider', METHOD: 'ppp', MODE: 'stop', PHASE: 'post-down' },
      ['ifdown wan2'],
    ],
    ['if-up.d for lo does nothing', { ...base, IFACE: 'lo', LOGICAL: 'lo', METHOD: 'loopback', MODE: 'start', PHASE: 'post-up' }, []],
    [
      'ifup -a (IFACE=--all) does nothing',
      { IFACE: '--all', LOGICAL: 'auto', ADDRFAM: 'meta', METHOD: 'none', MODE: 'start', PHASE: 'post-up', VERBOSITY: '0' },
      [],
    ],
    ['if-up.d on eth3, which carries no WAN, does nothing', { ...base, IFACE: 'eth3', LOGICAL: 'eth3', MODE: 'start', PHASE: 'post-up' }, []],
    ['the same script in if-pre-up.d (start/pre-up) does nothing', { ...base, IFACE: 'eth1', MODE: 'start', PHASE: 'pre-up' }, []],
    ['the same script in if-down.d (stop/pre-down) does nothing', { ...base, IFACE: 'eth1', MODE: 'stop', PHASE: 'pre-down' }, []],
  ])('%s', async (_name, env, expected) => {
    expect((await hook(IFUPDOWN, [], env)).calls).toEqual(expected);
  });
});

describe('what never fails a network manager', () => {
  it('a daemon that is not running: the hook tries every WAN, says so, and exits 0', async () => {
    const r = await hook(NM, ['eth1', 'up'], { DEVICE_IFACE: 'eth1', DEVICE_IP_IFACE: 'eth1' }, { bin: failingDir });
    expect(r.calls).toEqual(['ifup wan1', 'ifup wan1_6']);
    expect(r.stderr).toContain('nft-mwan ifup wan1 failed');
  });

  it('no config yet: nothing is run', async () => {
    const r = await hook(IFUPDOWN, [], { IFACE: 'eth1', MODE: 'start', PHASE: 'post-up' }, { config: join(dir, 'absent.json') });
    expect(r.calls).toEqual([]);
  });

  it('a config that is not JSON: nothing is run, a message, exit 0', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{ "interfaces": ');
    const r = await hook(NETWORKD, [], { IFACE: 'eth1', STATE: 'routable' }, { config: bad });
    expect(r.calls).toEqual([]);
    expect(r.stderr).toContain('cannot read the interfaces of');
  });

  it.each([NETWORKD, NM, IFUPDOWN])('the package removed, its hook kept as a conffile (%s): nothing is run', async (script) => {
    const r = await hook(
      script,
      ['eth1', 'up'],
      { IFACE: 'eth1', STATE: 'routable', MODE: 'start', PHASE: 'post-up', DEVICE_IP_IFACE: 'eth1' },
      { helper: join(dir, 'gone') },
    );
    expect(r.calls).toEqual([]);
  });
});

describe('the scripts are POSIX sh', () => {
  it.each(HOOKS)('%s has no bashisms and parses with dash', async (script) => {
    // checkbashisms is in devscripts (CI installs it); dash -n alone where it is missing.
    const checker = await run('sh', ['-c', 'command -v checkbashisms'], {}).then(
      () => true,
      () => false,
    );
    if (checker) await expect(run('checkbashisms', ['--posix', script])).resolves.toBeDefined();
    else if (process.env.CI === 'true') throw new Error('checkbashisms is missing (apt-get install devscripts)');
    await expect(run('dash', ['-n', script])).resolves.toBeDefined();
  });
});
