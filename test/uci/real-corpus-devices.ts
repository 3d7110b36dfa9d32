// The device each corpus fixture's interface sections get (--device NAME=DEV), as the corpus run of issue 18 mapped them:
// one device per interface section, an X6 (or X_6 beside X_4) section on its X's device, as a router's `@wan` alias would.
// Shared by the import test (test/uci/real-corpus.test.ts) and the namespace check (test/integration/corpus-check.test.ts).
export const CORPUS_DEVICES: Readonly<Record<string, string>> = {
  'openwrt-default': 'wan=eth1 wan6=eth1 wanb=eth2 wanb6=eth2',
  'romaxa-3wan-ru': 'wan1=eth1 wan2=eth2 wan3=eth3',
  'leonzdev-5-tethers': 'tether0=eth1 tether1=eth2 tether2=eth3 tether3=eth4 tether4=eth5',
  'twotreeszf-3wan': 'wan1=eth1 wan2=eth2 wan3=eth3',
  'szymczak-policy-default': 'wan=eth1 wwan=eth2 tethering=eth3 modem=eth4',
  'bertrandmartel-even-odd': 'wan=eth1 wan2=eth2 wan3=eth3',
  'gltollgate-v4-v6': 'wan=eth1 wwan=eth2 tethering=eth3 wan6=eth1 wwan6=eth2 tethering6=eth3',
  'taxiboxx-batman-wwan': 'bat0=eth1 wwan=eth2',
  'irfan-hostname-httping': 'wan=eth1 tethering=eth2 HP1=eth3 wan2=eth4',
  'ja16779-sticky-ipset': 'wan=eth1 secondwan=eth2',
  'lodiwifi-check-quality': 'wan1=eth1 wan2=eth2 wan3=eth3',
  'nazreinkaram-r6220-v4v6': 'wan=eth1',
  'mehmetcakir-2wan-lan-gw': 'wan2=eth1 wan=eth2',
  'aromalct-6wan-baidu': 'wan2=eth1 vwan1=eth2 vwan2=eth3 vwan3=eth4 vwan4=eth5',
  'bh8vyk-4g-travelmate': 'wan=eth1 trm_wwan=eth2',
  'extvoid-wan-wwan-defaults': 'wan=eth1 wwan=eth2',
  'skyearn-dup-member-baidu': 'wan6=eth2 wanb=eth1 wanb6=eth1 wan=eth2',
  'photonicat-3tier-failover': 'wan=eth1 wwan=eth2 wwan_5g=eth3',
  'intellimesh-trailing-ws': 'wan=eth1 wwan=eth2',
  'petercheat-wndr3700-sticky60': 'wan=eth1 wwan=eth2',
  'pj-wwan4-wwan6': 'wan=eth1 wan6=eth1 wwan_4=eth2 wwan_6=eth2',
  'mips171-wan-mobile': 'wan=eth1 mobile=eth2',
  'ateos-cellular-backup': 'wan=eth1 wan2=eth2 cellular=eth3',
  'mhycy-r300a-anon-rule': 'wan=eth1 wwan=eth2',
  // No interface section: nothing to map.
  'gxlclc-globals-only': '',
  'nswa-empty-policy': '',
  'd525-ipset-cn-comments': '',
};

/** `--device NAME=DEV` arguments for a fixture. */
export function deviceArgs(fixture: string): string[] {
  const mapping = CORPUS_DEVICES[fixture];
  if (mapping === undefined) throw new Error(`no device mapping for corpus fixture ${fixture}`);
  return mapping === '' ? [] : mapping.split(' ').flatMap((d) => ['--device', d]);
}
