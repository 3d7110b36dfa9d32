// Entry point: parses the command line, runs one command, maps errors to exit statuses in one place.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT, MwanError } from '../model/errors.js';
import { DEFAULT_CONFIG_PATH } from '../config/load.js';
import { createContext, type CommandContext } from './context.js';
import { parseCommandLine, type Options } from './args.js';
import { useAppliedConfig } from './applied-config.js';

interface CommandSpec {
  summary: string;
  usage: string;
  options: Options;
  /** Takes positional arguments (the others refuse any). */
  args?: true;
  /** Why it needs root, when it does: it reads or changes the kernel's tables, or talks to the daemon. */
  root?: string;
  /** Reads what is installed: without --config it uses the config applied last (recorded in the state dir). */
  installed?: true;
  load: () => Promise<{ default: (ctx: CommandContext) => Promise<number> }>;
}

const COMMANDS: Record<string, CommandSpec> = {
  check: {
    summary: 'validate the config, compile it and let nft check the batch; changes nothing',
    usage: 'check [--config FILE]',
    options: {},
    root: 'has nft check the batch and reads the routes and addresses it depends on',
    load: () => import('./check.js'),
  },
  apply: {
    summary: 'install the config: one nft transaction, verified, plus ip rules and routes (idempotent)',
    usage: 'apply [--config FILE] [--print] [--try [SECONDS]] [--state-dir DIR]',
    options: { print: { type: 'boolean' }, try: { type: 'string' }, 'state-dir': { type: 'string' } },
    root: 'changes nftables, ip rules and routes',
    load: () => import('./apply.js'),
  },
  status: {
    summary: "show what is installed and, with the daemon running, each WAN's live state, RTT, loss and last probes",
    usage: 'status [--config FILE] [--json] [--watch SECONDS] [--state-dir DIR]',
    options: { json: { type: 'boolean' }, watch: { type: 'string' }, 'state-dir': { type: 'string' } },
    root: 'reads the installed nftables table, ip rules and routes through netlink',
    installed: true,
    load: () => import('./status.js'),
  },
  confirm: {
    summary: 'keep the change a pending `apply --try` made',
    usage: 'confirm [--state-dir DIR]',
    options: { 'state-dir': { type: 'string' } },
    root: 'changes nftables, ip rules and routes',
    load: async () => ({ default: (await import('./try.js')).confirmCommand }),
  },
  'try-watchdog': {
    summary: '',
    usage: 'try-watchdog --state-dir DIR (started by apply --try; not for people)',
    options: { 'state-dir': { type: 'string' } },
    root: 'changes nftables, ip rules and routes',
    load: async () => ({ default: (await import('./try.js')).watchdogCommand }),
  },
  explain: {
    summary: 'which rule, policy and WANs (with probabilities) a NEW connection gets now, and why',
    usage: 'explain --src ADDR --dst ADDR [--proto tcp|udp|icmp|N] [--sport N] [--dport N] [--iif DEVICE] [--json] [--config FILE] [--state-dir DIR]',
    options: {
      src: { type: 'string' },
      dst: { type: 'string' },
      proto: { type: 'string' },
      sport: { type: 'string' },
      dport: { type: 'string' },
      iif: { type: 'string' },
      json: { type: 'boolean' },
      'state-dir': { type: 'string' },
    },
    root: 'reads the installed nftables table, ip rules and routes through netlink',
    installed: true,
    load: () => import('./explain.js'),
  },
  interfaces: {
    summary: "mwan3's view: each interface online/offline, for how long, and its tracking",
    usage: 'interfaces [--config FILE] [--state-dir DIR]',
    options: { 'state-dir': { type: 'string' } },
    root: 'reads the installed nftables table, ip rules and routes through netlink',
    installed: true,
    load: async () => ({ default: (await import('./views.js')).interfacesView }),
  },
  policies: {
    summary: "mwan3's view: each policy's members with their live percentage",
    usage: 'policies [--config FILE] [--state-dir DIR]',
    options: { 'state-dir': { type: 'string' } },
    root: 'reads the installed nftables table, ip rules and routes through netlink',
    installed: true,
    load: async () => ({ default: (await import('./views.js')).policiesView }),
  },
  connected: {
    summary: "mwan3's view: the networks never balanced (connected routes and bypass)",
    usage: 'connected [--config FILE] [--state-dir DIR]',
    options: { 'state-dir': { type: 'string' } },
    root: 'reads the installed nftables table, ip rules and routes through netlink',
    installed: true,
    load: async () => ({ default: (await import('./views.js')).connectedView }),
  },
  rules: {
    summary: "mwan3's view: the user rules in order with their policy",
    usage: 'rules [--config FILE] [--state-dir DIR]',
    options: { 'state-dir': { type: 'string' } },
    installed: true,
    load: async () => ({ default: (await import('./views.js')).rulesView }),
  },
  'import-uci': {
    summary: "print mwan3's UCI config as an nft-mwan config; notes on stderr for what maps differently",
    usage: 'import-uci [/etc/config/mwan3] [--network /etc/config/network] [--device IF=DEV ...]',
    options: { network: { type: 'string' }, device: { type: 'string', multiple: true } },
    args: true,
    load: () => import('./import-uci.js'),
  },
  use: {
    summary: 'run a command whose new connections leave through one WAN',
    usage: 'use [--config FILE] [--state-dir DIR] WAN -- COMMAND [ARG...]',
    options: { 'state-dir': { type: 'string' } },
    args: true,
    root: 'runs the command in the group the output chain maps to the WAN, and reads the installed table',
    installed: true,
    load: () => import('./use.js'),
  },
  set: {
    summary: 'add, remove or list the run-time elements of a named set from the config',
    usage: 'set [--config FILE] [--state-dir DIR] add|del NAME ELEMENT... | set [--config FILE] [--state-dir DIR] list NAME',
    options: { 'state-dir': { type: 'string' } },
    args: true,
    root: 'reads and changes the elements of the installed table',
    installed: true,
    load: () => import('./set.js'),
  },
  daemon: {
    summary: 'track every WAN and re-apply on each change (foreground; SIGHUP reloads, SIGTERM stops)',
    usage: 'daemon [--config FILE] [--state-dir DIR] [--stop-on-exit]',
    options: { 'state-dir': { type: 'string' }, 'stop-on-exit': { type: 'boolean' } },
    root: 'changes nftables, ip rules and routes',
    load: () => import('./daemon.js'),
  },
  ifdown: {
    summary: 'take a WAN out of service until ifup (asks the running daemon)',
    usage: 'ifdown INTERFACE [--state-dir DIR]',
    options: { 'state-dir': { type: 'string' } },
    args: true,
    root: 'talks to the daemon through its control socket in the state directory',
    load: () => import('./ifdown.js'),
  },
  ifup: {
    summary: 'put a WAN taken out by ifdown back under tracking (asks the running daemon)',
    usage: 'ifup INTERFACE [--state-dir DIR]',
    options: { 'state-dir': { type: 'string' } },
    args: true,
    root: 'talks to the daemon through its control socket in the state directory',
    load: () => import('./ifup.js'),
  },
  stop: {
    summary: 'remove exactly what nft-mwan installed (its table, ip rules and routes), nothing else',
    usage: 'stop [--config FILE] [--state-dir DIR]',
    options: { 'state-dir': { type: 'string' } },
    root: 'changes nftables, ip rules and routes',
    installed: true,
    load: () => import('./stop.js'),
  },
};

/**
 * nft-mwan's version, from its package.json: the nearest one named nft-mwan above this module (one level
 * up from the bundle in dist/, three from dist/src/cli/ when run unbundled).
 */
export function version(from: string = fileURLToPath(import.meta.url)): string {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'nft-mwan' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // No package.json here (or not JSON): look further up.
    }
    if (dirname(dir) === dir) throw new MwanError({ code: 'INTERNAL', summary: `no package.json of nft-mwan above ${from}` });
  }
}

/** Root, as the kernel sees it: netlink's changes and the state directory in /run want it. */
function isRoot(): boolean {
  return process.geteuid?.() === 0;
}

function usage(): string {
  const lines = ['usage: nft-mwan COMMAND [OPTIONS]', '', 'commands:'];
  for (const [name, spec] of Object.entries(COMMANDS)) if (spec.summary) lines.push(`  ${name.padEnd(10)} ${spec.summary}`);
  lines.push(
    '',
    'options for every command:',
    `  -c, --config FILE   config file (default ${DEFAULT_CONFIG_PATH})`,
    '  -v, --verbose       log every command run (nft, ip)',
    '  -q, --quiet         only log warnings and errors',
    '',
    `without root: ${Object.entries(COMMANDS)
      .filter(([, c]) => !c.root && c.summary)
      .map(([n]) => n)
      .join(', ')}; every other command reads or changes the kernel's tables and needs root.`,
    '',
    'nft-mwan --version (or -V) prints the version.',
    '',
    `exit status: ${EXIT.ok} success, ${EXIT.usage} bad usage, ${EXIT.config} invalid config, ${EXIT.failure} runtime failure`,
  );
  return lines.join('\n');
}

export async function main(argv: string[], out: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    out(`${usage()}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version' || name === '-V') {
    out(`nft-mwan ${version()}\n`);
    return EXIT.ok;
  }
  const spec = COMMANDS[name];
  if (!spec) throw new MwanError({ code: 'USAGE', summary: `unknown command "${name}"\n${usage()}` });
  const parsed = parseCommandLine(name, spec, rest);
  const values = parsed.values;
  if (values.help) {
    out(`usage: nft-mwan ${spec.usage}\n${spec.summary}\n${spec.root ? `needs root: it ${spec.root}\n` : ''}`);
    return EXIT.ok;
  }
  if (spec.root && !isRoot()) {
    throw new MwanError({
      code: 'NOT_ROOT',
      summary:
        `${name} needs root: it ${spec.root} (run it as root, e.g. with sudo). ` +
        `Without root: ${Object.entries(COMMANDS)
          .filter(([n, c]) => !c.root && c.summary && n !== name)
          .map(([n]) => n)
          .join(', ')}, --help and --version`,
    });
  }
  const command = await spec.load();
  const ctx = createContext(values, parsed.positionals, out, { timestamps: name === 'daemon' });
  if (spec.installed && values.config === undefined) await useAppliedConfig(ctx);
  return command.default(ctx);
}

/**
 * main() with the one catch of the command line: an MwanError exits with the status its code maps to, anything
 * else is a bug and exits 1 with its stack.
 */
export async function runCli(
  argv: string[],
  out: (text: string) => void = (t) => process.stdout.write(t),
  err: (text: string) => void = (t) => process.stderr.write(t),
): Promise<number> {
  try {
    return await main(argv, out);
  } catch (error) {
    if (error instanceof MwanError) {
      err(`nft-mwan: error: ${error.message}\n`);
      return error.exitStatus;
    }
    const system = systemError(error);
    if (system !== null) {
      err(`nft-mwan: error: ${system}\n`);
      return EXIT.failure;
    }
    err(`nft-mwan: internal error (a bug, please report): ${(error as Error | undefined)?.stack ?? String(error)}\n`);
    return EXIT.failure;
  }
}

/**
 * A file the system refused (no permission, read-only, not a directory...): the environment's problem, not a bug.
 * Node's error fields say which call on which file failed.
 */
function systemError(error: unknown): string | null {
  if (!(error instanceof Error)) return null;
  const e = error as NodeJS.ErrnoException;
  if (typeof e.code !== 'string' || typeof e.syscall !== 'string' || typeof e.path !== 'string') return null;
  const why: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOTDIR: 'a part of the path is not a directory',
    ENOENT: 'no such file or directory',
    ENOSPC: 'no space left on the device',
    EISDIR: 'is a directory',
  };
  const hint = (e.code === 'EACCES' || e.code === 'EPERM') && !isRoot() ? ' (run as root)' : '';
  return `${e.syscall} ${e.path}: ${why[e.code] ?? e.code}${hint}`;
}

// Run when executed (bin/nft-mwan imports this module's bundle), not when imported by tests.
if (process.argv[1] && /nft-mwan(\.mjs)?$|main\.js$/.test(process.argv[1])) {
  void runCli(process.argv.slice(2)).then((status) => {
    process.exitCode = status;
  });
}
