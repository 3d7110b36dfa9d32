// Whether this machine can run the namespace lab: root, the tools, and a namespace that really works. Cached per process.
import { execaSync } from 'execa';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { newPrefix } from './netns.js';

export interface LabAvailability {
  ok: boolean;
  /** What is missing, each phrased for a human ("root (running as uid 1000)", "conntrack"). */
  missing: string[];
}

/** Every command the lab and its dump run. */
export const LAB_COMMANDS = ['ip', 'nft', 'conntrack', 'ping', 'sysctl'] as const;

/** Where PATH finds `command` (as execa and `ip netns exec` do), or undefined. */
export function whichOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return join(dir, command);
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

function onPath(command: string): boolean {
  return whichOnPath(command) !== undefined;
}

export interface NftVersion {
  /** The file PATH finds. */
  path: string;
  /** What `nft --version` printed, e.g. "nftables v1.1.3 (Commodore Bullmoose #4)". */
  banner: string;
  /** The version number alone, e.g. "1.1.3"; undefined when the banner has none. */
  version: string | undefined;
}

/** The version number in `nft --version`'s banner. */
export function parseNftVersion(banner: string): string | undefined {
  return /\bv(\d+\.\d+(?:\.\d+)*)\b/.exec(banner)?.[1];
}

/**
 * The environment variable a run sets to the version it promises to test (a prefix: "1.1" accepts 1.1.3):
 * CI's second pass runs the suites with Debian 13's nft first in PATH and must not quietly use the system's.
 */
export const EXPECT_NFT_ENV = 'NFT_MWAN_EXPECT_NFT';

/** True when `version` is `expected` or a release of it ("1.1" accepts "1.1.3", not "1.10.0"). */
export function nftVersionMatches(version: string | undefined, expected: string): boolean {
  if (version === undefined) return false;
  return version === expected || version.startsWith(`${expected.replace(/\.$/, '')}.`);
}

let cachedNft: NftVersion | undefined;

/** The nft that PATH finds, as nft-mwan and the lab will run it; undefined when there is none. Cached per process. */
export function nftVersion(): NftVersion | undefined {
  if (cachedNft) return cachedNft;
  const path = whichOnPath('nft');
  if (path === undefined) return undefined;
  const r = execaSync(path, ['--version'], { reject: false, timeout: 10_000 });
  const banner = String(r.stdout ?? '').trim() || String(r.stderr ?? '').trim() || (r.message ?? 'no output');
  cachedNft = { path, banner, version: r.exitCode === 0 ? parseNftVersion(banner) : undefined };
  return cachedNft;
}

/** Creates, uses and deletes a throw-away namespace: the module, /run/netns and nf_tables all have to work. */
function probeNamespace(): string | undefined {
  const ns = `${newPrefix()}-probe`;
  const run = (args: string[]) => execaSync('ip', args, { reject: false, timeout: 10_000 });
  const added = run(['netns', 'add', ns]);
  if (added.exitCode !== 0) return `ip netns add (${String(added.stderr).trim() || added.message})`;
  try {
    const nft = run(['netns', 'exec', ns, 'nft', 'list', 'ruleset']);
    if (nft.exitCode !== 0) return `nftables inside a namespace (${String(nft.stderr).trim() || nft.message})`;
    return undefined;
  } finally {
    run(['netns', 'del', ns]);
  }
}

let cached: LabAvailability | undefined;

export function labAvailable(): LabAvailability {
  if (cached) return cached;
  const missing: string[] = [];
  const uid = process.getuid?.();
  if (uid !== 0) missing.push(`root (running as uid ${uid ?? 'unknown'})`);
  for (const command of LAB_COMMANDS) if (!onPath(command)) missing.push(command);
  // A run that promises an nft version (CI's second pass) must not test another one: in CI that fails every suite.
  const expected = process.env[EXPECT_NFT_ENV];
  if (expected && onPath('nft')) {
    const nft = nftVersion();
    if (!nftVersionMatches(nft?.version, expected)) missing.push(`nft ${expected} first in PATH (${EXPECT_NFT_ENV}; found ${nft?.path}: ${nft?.banner})`);
  }
  // Only worth probing when it can succeed; a non-root probe would just repeat "root".
  if (missing.length === 0) {
    const problem = probeNamespace();
    if (problem) missing.push(problem);
  }
  cached = { ok: missing.length === 0, missing };
  return cached;
}
