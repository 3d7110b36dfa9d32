// Reads the installed balancing policy from the kernel (nft in the gateway), for the daemon's tests and the failover benchmark.
import type { Lab } from './netns.js';

/** Does the installed balancing policy send new connections to wan2? Read from the kernel, not the daemon. */
export async function wan2InPolicy(lab: Lab): Promise<boolean> {
  // Not there yet (the daemon still starting) reads as "not in the policy".
  const r = await lab.exec('gw', 'nft', ['-j', 'list', 'chain', 'inet', 'nft_mwan', 'policy_balanced'], { reject: false });
  return r.exitCode === 0 && r.stdout.includes('"mark_wan2"');
}

/** Polls every 10 ms until wan2InPolicy is `want`; returns the milliseconds it took, throws past `limitMs`. */
export async function untilWan2InPolicy(lab: Lab, want: boolean, limitMs: number): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < limitMs) {
    if ((await wan2InPolicy(lab)) === want) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`wan2 ${want ? 'not back' : 'still in the policy'} after ${limitMs} ms`);
}
