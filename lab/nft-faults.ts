// Fault injection for nft-mwan's own nft transactions, shared by the engine-hardening lab test and the attack
// arena: configs that tell which one is installed, and a stand-in `nft` first in PATH.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execaSync } from 'execa';

export type Wan = 'wan1' | 'wan2' | 'wan3';

/** A config over some WANs whose policy name (`pN`, chain policy_pN) tells which config is installed. */
export function variant(n: number, wans: readonly Wan[], globals: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    globals,
    interfaces: Object.fromEntries(wans.map((w) => [w, { device: w, gateway: 'auto' }])),
    policies: { [`p${n}`]: { members: wans.map((w, i) => ({ interface: w, weight: i + 1 })) } },
    rules: [{ name: 'default', policy: `p${n}` }],
  };
}

/** WAN subsets for variants 0-4. */
export const SUBSETS: Wan[][] = [['wan1', 'wan2'], ['wan1', 'wan2', 'wan3'], ['wan2', 'wan3'], ['wan1', 'wan3'], ['wan3']];

/**
 * Writes a stand-in `nft` into DIR/bin and returns that directory. List and check calls go to the real nft; the
 * first transaction (-f) after `marker` is removed behaves as NFT_STAND_IN says, then `marker` exists:
 * `fail` commits and exits 1, `hang` commits and sleeps `hangS`, `sleep-after` commits and sleeps `sleepS`,
 * `sleep-before` sleeps `sleepS` without committing.
 */
export function nftStandIn(dir: string, marker: string, o: { hangS: number; sleepS: number }): string {
  const real = execaSync('sh', ['-c', 'command -v nft']).stdout.trim();
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const script = `#!/bin/sh
apply=0; check=0
for a in "$@"; do [ "$a" = "-f" ] && apply=1; [ "$a" = "-c" ] && check=1; done
if [ "$apply" = 1 ] && [ "$check" = 0 ] && [ ! -e "${marker}" ]; then
  case "$NFT_STAND_IN" in
    fail) ${real} "$@"; touch "${marker}"; exit 1 ;;
    hang) ${real} "$@"; touch "${marker}"; exec sleep ${o.hangS} ;;
    sleep-after) ${real} "$@"; touch "${marker}"; exec sleep ${o.sleepS} ;;
    sleep-before) touch "${marker}"; exec sleep ${o.sleepS} ;;
  esac
fi
exec ${real} "$@"
`;
  writeFileSync(join(bin, 'nft'), script);
  chmodSync(join(bin, 'nft'), 0o755);
  return bin;
}

/**
 * `env` and its words to run a command with the stand-in first in PATH in `mode`, and nft run as a command
 * (NFT_MWAN_NFT=cli): in process, nft-mwan would never run the stand-in.
 */
export function withNftStandIn(bin: string, mode: string): [string, string[]] {
  return ['env', [`PATH=${bin}:${process.env.PATH ?? ''}`, `NFT_STAND_IN=${mode}`, 'NFT_MWAN_NFT=cli']];
}
