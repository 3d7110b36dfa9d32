// The attack arena: a multi-WAN lab whose gateway already holds foreign objects (table inet fw4, an ip rule, a proto dhcp route), and the probes attacks judge by.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackgroundProcess, ExecResult, Lab } from '../../lab/netns.js';
import { nftStandIn, SUBSETS, variant, withNftStandIn } from '../../lab/nft-faults.js';
import { buildMultiWan, LAB_NET } from '../../lab/topology.js';

export const BIN = fileURLToPath(new URL('../../../bin/nft-mwan', import.meta.url));
export const W1 = LAB_NET.wan[1];
export const W2 = LAB_NET.wan[2];
export const SRV1 = LAB_NET.server.addrs[0];

/** One attack's verdict: passed or not, and why, in one line. */
export interface Verdict {
  ok: boolean;
  reason: string;
}

export const pass = (reason: string): Verdict => ({ ok: true, reason });
export const fail = (reason: string): Verdict => ({ ok: false, reason });

/** The foreign objects put into the gateway before any attack: nft-mwan must never change them. */
export const FW4 = `table inet fw4 {
  set lan_hosts { type ipv4_addr; elements = { 192.168.10.2, 192.168.10.3 } }
  chain input { type filter hook input priority 0; policy accept; ip saddr @lan_hosts counter accept; }
  chain forward { type filter hook forward priority 0; policy accept; ct state established,related accept; }
  chain srcnat { type nat hook postrouting priority 100; policy accept; }
}
`;
export const FOREIGN_RULE = ['from', '10.99.0.0/16', 'lookup', '4242', 'pref', '4242'];
export const FOREIGN_ROUTE = ['203.0.113.0/24', 'via', W1.gateway, 'dev', W1.dev, 'table', '300', 'proto', 'dhcp'];

const counters = (s: string) => s.replace(/packets \d+ bytes \d+/g, 'packets N bytes N');

export class Arena {
  readonly work = mkdtempSync(join(tmpdir(), 'nft-mwan-attacks-'));
  readonly stateDir = join(this.work, 'state');
  readonly marker = join(this.work, 'committed');
  readonly stubBin = nftStandIn(this.work, this.marker, { hangS: 60, sleepS: 5 });
  readonly configs = SUBSETS.map((wans, n) => this.file(`variant${n}.json`, variant(n, wans)));
  private seq = 0;

  constructor(readonly lab: Lab) {}

  async build(): Promise<void> {
    await buildMultiWan(this.lab, { wans: 3 });
    await this.addForeign();
    // The kernel adds link-local addresses and their local routes once DAD is done: wait until that has settled, or
    // the before/after comparisons would see the kernel's changes as the attack's.
    await this.lab.waitFor(async () => !(await this.lab.ip('gw', ['-6', 'addr', 'show'])).stdout.includes('tentative'), {
      timeoutMs: 15_000,
      what: 'IPv6 link-local addresses to settle',
    });
    await sleep(1_000);
  }

  /** fw4, the foreign rule and the foreign route; each only if missing (a flush ruleset removes fw4). */
  async addForeign(): Promise<void> {
    if ((await this.lab.exec('gw', 'nft', ['list', 'table', 'inet', 'fw4'], { reject: false })).exitCode !== 0) await this.lab.nft('gw', FW4);
    if (!(await this.lab.ip('gw', ['rule', 'show'])).stdout.includes('4242:')) await this.lab.ip('gw', ['rule', 'add', ...FOREIGN_RULE]);
    if (!(await this.lab.ip('gw', ['route', 'show', 'table', '300'], { reject: false })).stdout.includes('203.0.113.0/24')) {
      await this.lab.ip('gw', ['route', 'add', ...FOREIGN_ROUTE]);
    }
  }

  /** A new file in the work directory (root-owned, 0644, in a 0700 directory): a config root may trust. */
  file(name: string, content: unknown): string {
    const path = join(this.work, name);
    writeFileSync(path, typeof content === 'string' || Buffer.isBuffer(content) ? content : JSON.stringify(content, null, 2));
    return path;
  }

  /** A fresh file name for a generated config. */
  next(content: unknown, ext = 'json'): string {
    this.seq += 1;
    return this.file(`attack-${this.seq}.${ext}`, content);
  }

  canary(): string {
    this.seq += 1;
    return join(this.work, `canary-${this.seq}`);
  }

  /** A short relative file name for a payload to create (short enough to pass as a device name). */
  token(): string {
    this.seq += 1;
    return `a${this.seq}`;
  }

  /** Whether a payload's command ran: its file in the CLI's working directory, the work directory or /. */
  ran(token: string): boolean {
    return [process.cwd(), this.work, '/'].some((dir) => existsSync(join(dir, token)));
  }

  cli(args: readonly string[], timeoutMs = 60_000): Promise<ExecResult> {
    return this.lab.exec('gw', BIN, [...args], { timeoutMs, reject: false });
  }

  apply(config: string, ...extra: string[]): Promise<ExecResult> {
    return this.cli(['apply', '--config', config, '--state-dir', this.stateDir, ...extra]);
  }

  stop(config: string): Promise<ExecResult> {
    return this.cli(['stop', '--config', config, '--state-dir', this.stateDir]);
  }

  /** nft-mwan with the stand-in nft first in PATH, as [file, ...args] for lab.exec / lab.spawn. */
  standIn(mode: string, args: readonly string[]): [string, string[]] {
    const [env, words] = withNftStandIn(this.stubBin, mode);
    return [env, [...words, BIN, ...args]];
  }

  spawn(file: string, args: readonly string[]): BackgroundProcess {
    return this.lab.spawn('gw', file, args);
  }

  /** Everything apply or stop could change in the gateway, counters masked. */
  async snapshot(): Promise<string> {
    const parts = await Promise.all([
      this.lab.exec('gw', 'nft', ['list', 'ruleset']),
      this.lab.ip('gw', ['rule', 'show']),
      this.lab.ip('gw', ['-6', 'rule', 'show']),
      this.lab.ip('gw', ['route', 'show', 'table', 'all']),
      this.lab.ip('gw', ['-6', 'route', 'show', 'table', 'all']),
    ]);
    return counters(parts.map((r) => r.stdout).join('\n----\n'));
  }

  /** What belongs to others: fw4, the foreign rule, table 300, the main table. */
  async foreign(): Promise<string> {
    const [fw4, rules, t300, main] = await Promise.all([
      this.lab.exec('gw', 'nft', ['list', 'table', 'inet', 'fw4'], { reject: false }),
      this.lab.ip('gw', ['rule', 'show']),
      this.lab.ip('gw', ['route', 'show', 'table', '300'], { reject: false }),
      this.lab.ip('gw', ['route', 'show', 'table', 'main']),
    ]);
    const foreignRules = rules.stdout.split('\n').filter((l) => l.startsWith('4242:'));
    return counters([fw4.stdout, ...foreignRules, t300.stdout, main.stdout].join('\n----\n'));
  }

  /** Which variant's table is installed (its policy chain), null for none, -1 for another table. */
  async installed(): Promise<number | null> {
    const r = await this.lab.exec('gw', 'nft', ['list', 'table', 'inet', 'nft_mwan'], { reject: false });
    if (r.exitCode !== 0) return null;
    const m = /chain policy_p(\d+)/.exec(r.stdout);
    return m?.[1] === undefined ? -1 : Number(m[1]);
  }

  /** Our rules (fwmark lookups of tables 1000+) and routes (tables 1000+). */
  async ownRouting(): Promise<{ rules: number; routes: number }> {
    const rules = (await this.lab.ip('gw', ['rule', 'show'])).stdout.split('\n').filter((l) => /lookup 10\d\d\b/.test(l)).length;
    const routes = (await this.lab.ip('gw', ['route', 'show', 'table', 'all'])).stdout.split('\n').filter((l) => /table 10\d\d\b/.test(l)).length;
    return { rules, routes };
  }

  /** Applying variant n again finds nothing to do: whatever ran before left n's plan whole. */
  async upToDate(n: number): Promise<Verdict> {
    const r = await this.apply(this.configs[n] ?? '');
    if (r.exitCode !== 0) return fail(`re-apply of config ${n} exited ${r.exitCode}: ${firstLine(r.stderr)}`);
    if (!/already up to date/.test(r.stderr)) return fail(`re-apply of config ${n} had work to do (mixed state): ${firstLine(r.stderr)}`);
    return pass(`config ${n} installed whole`);
  }
}

export function firstLine(text: string): string {
  const lines = text.split('\n').filter((l) => l.trim().length > 0);
  const line = lines.find((l) => /error|refus|invalid|must|not /i.test(l)) ?? lines[0] ?? '(no output)';
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
