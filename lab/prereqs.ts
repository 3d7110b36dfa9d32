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

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
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
  // Only worth probing when it can succeed; a non-root probe would just repeat "root".
  if (missing.length === 0) {
    const problem = probeNamespace();
    if (problem) missing.push(problem);
  }
  cached = { ok: missing.length === 0, missing };
  return cached;
}
