// The runtime state directory of the network namespace this process runs in: one per namespace, never shared.
import { readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** The state directory of the machine's own (initial) network namespace. */
export const BASE_STATE_DIR = '/run/nft-mwan';

/**
 * `/run/nft-mwan` in the initial network namespace; `/run/nft-mwan/netns/net-INODE` in any other. The
 * namespace's inode (of /proc/self/ns/net) names it without running `ip netns identify` on every command,
 * and also names namespaces that have no name under /run/netns (a container's). A daemon in one namespace
 * thus never makes apply in another refuse, nor serializes with it: each namespace has its own kernel state.
 */
export function runtimeDir(base: string = BASE_STATE_DIR): string {
  const self = netnsInode('self');
  const init = netnsInode('1');
  if (self === null || self === init) return base;
  return join(base, 'netns', `net-${self}`);
}

function netnsInode(pid: string): string | null {
  try {
    // "net:[4026531840]"
    return /\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/net`))?.[1] ?? null;
  } catch {
    return null;
  }
}

/** NFT_MWAN_STATE_DIR when set, else this namespace's runtime directory. */
export function defaultStateDir(): string {
  return process.env.NFT_MWAN_STATE_DIR ?? runtimeDir();
}
