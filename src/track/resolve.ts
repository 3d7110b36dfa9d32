// Host-name probe targets resolved at every round through the system resolver, within the round's time.
import { lookup as dnsLookup } from 'node:dns/promises';

/** The addresses of `name` in one family, in the resolver's order; rejects with the resolver's error. */
export type Lookup = (name: string, family: 4 | 6) => Promise<string[]>;

/** Lookups under way, by family and name: a round joins the one still running rather than starting another. */
const pending = new Map<string, Promise<string[]>>();

/**
 * getaddrinfo, as ping and httping use it in mwan3: /etc/hosts, then the router's own DNS. Its queries leave as
 * any of the router's own traffic does (through the rules), not through the WAN under test: the name says where
 * to probe, the probe itself says whether this WAN works. getaddrinfo runs on libuv's small thread pool and
 * cannot be cancelled: one lookup per name at a time, so a dead resolver never fills the pool.
 */
export const systemLookup: Lookup = (name, family) => {
  const key = `${family}/${name}`;
  let p = pending.get(key);
  if (p === undefined) {
    p = dnsLookup(name, { family, all: true, verbatim: true })
      .then((all) => all.map((a) => a.address))
      .finally(() => pending.delete(key));
    pending.set(key, p);
  }
  return p;
};

export type Resolution = { address: string; ms: number } | { error: string; ms: number };

/**
 * The first address of `name` in `family`, or why there is none: `resolve failed: CODE` (ENOTFOUND, EAI_AGAIN,
 * ...) or a timeout. Never throws. getaddrinfo cannot be cancelled, so a slow one is left to finish unheard.
 */
export async function resolveHost(name: string, family: 4 | 6, lookup: Lookup, timeoutMs: number, signal: AbortSignal): Promise<Resolution> {
  const started = performance.now();
  const ms = () => Math.round((performance.now() - started) * 1000) / 1000;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<string>((resolve) => {
    timer = setTimeout(() => {
      resolve(`resolve failed: no answer within ${timeoutMs} ms`);
    }, timeoutMs);
    onAbort = () => {
      resolve('cancelled');
    };
    signal.addEventListener('abort', onAbort);
  });
  const answer = lookup(name, family).then(
    (addresses) => (addresses[0] === undefined ? `resolve failed: no IPv${family} address` : { address: addresses[0] }),
    (e: unknown) => `resolve failed: ${errorCode(e)}`,
  );
  try {
    const r = await Promise.race([answer, stop]);
    return typeof r === 'string' ? { error: r, ms: ms() } : { ...r, ms: ms() };
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

function errorCode(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : e instanceof Error ? e.message : String(e);
}
