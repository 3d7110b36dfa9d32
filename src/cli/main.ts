// Entry point: parses the command line, runs one command, maps errors to exit statuses in one place.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EXIT, MwanError } from '../model/errors.js';
import { DEFAULT_CONFIG_PATH } from '../config/load.js';
import { createContext, type CommandContext } from './context.js';

interface CommandSpec {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  load: () => Promise<{ default: (ctx: CommandContext) => Promise<number> }>;
}

const COMMON = {
  config: { type: 'string', short: 'c' },
  verbose: { type: 'boolean', short: 'v' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

const COMMANDS: Record<string, CommandSpec> = {
  check: {
    summary: 'validate the config, compile it and let nft check the batch; changes nothing',
    usage: 'check [--config FILE]',
    options: {},
    load: () => import('./check.js'),
  },
  apply: {
    summary: 'install the config: one nft transaction, verified, plus ip rules and routes (idempotent)',
    usage: 'apply [--config FILE] [--print] [--try [SECONDS]] [--state-dir DIR]',
    options: { print: { type: 'boolean' }, try: { type: 'string' }, 'state-dir': { type: 'string' } },
    load: () => import('./apply.js'),
  },
  status: {
    summary: "show what is installed and, with the daemon running, each WAN's live state, RTT, loss and last probes",
    usage: 'status [--config FILE] [--json] [--watch SECONDS] [--state-dir DIR]',
    options: { json: { type: 'boolean' }, watch: { type: 'string' }, 'state-dir': { type: 'string' } },
    load: () => import('./status.js'),
  },
  confirm: {
    summary: 'keep the change a pending `apply --try` made',
    usage: 'confirm [--state-dir DIR]',
    options: { 'state-dir': { type: 'string' } },
    load: async () => ({ default: (await import('./try.js')).confirmCommand }),
  },
  'try-watchdog': {
    summary: '',
    usage: 'try-watchdog --state-dir DIR (started by apply --try; not for people)',
    options: { 'state-dir': { type: 'string' } },
    load: async () => ({ default: (await import('./try.js')).watchdogCommand }),
  },
  explain: {
    summary: 'which rule, policy and WANs (with probabilities) a NEW connection gets now, and why',
    usage: 'explain --src ADDR --dst ADDR [--proto tcp|udp|icmp|N] [--sport N] [--dport N] [--iif DEVICE] [--json] [--config FILE]',
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
    load: () => import('./explain.js'),
  },
  interfaces: {
    summary: "mwan3's view: each interface online/offline, for how long, and its tracking",
    usage: 'interfaces [--config FILE] [--state-dir DIR]',
    options: { 'state-dir': { type: 'string' } },
    load: async () => ({ default: (await import('./views.js')).interfacesView }),
  },
  policies: {
    summary: "mwan3's view: each policy's members with their live percentage",
    usage: 'policies [--config FILE] [--state-dir DIR]',
    options: { 'state-dir': { type: 'string' } },
    load: async () => ({ default: (await import('./views.js')).policiesView }),
  },
  connected: {
    summary: "mwan3's view: the networks never balanced (connected routes and bypass)",
    usage: 'connected [--config FILE]',
    options: {},
    load: async () => ({ default: (await import('./views.js')).connectedView }),
  },
  rules: {
    summary: "mwan3's view: the user rules in order with their policy",
    usage: 'rules [--config FILE]',
    options: {},
    load: async () => ({ default: (await import('./views.js')).rulesView }),
  },
  'import-uci': {
    summary: "print mwan3's UCI config as an nft-mwan config; notes on stderr for what maps differently",
    usage: 'import-uci [/etc/config/mwan3] [--network /etc/config/network] [--device IF=DEV ...]',
    options: { network: { type: 'string' }, device: { type: 'string', multiple: true } },
    load: () => import('./import-uci.js'),
  },
  use: {
    summary: 'run a command whose new connections leave through one WAN',
    usage: 'use WAN -- COMMAND [ARG...] [--config FILE]',
    options: {},
    load: () => import('./use.js'),
  },
  set: {
    summary: 'add, remove or list the run-time elements of a named set from the config',
    usage: 'set add|del NAME ELEMENT... | set list NAME [--config FILE]',
    options: {},
    load: () => import('./set.js'),
  },
  daemon: {
    summary: 'track every WAN and re-apply on each change (foreground; SIGHUP reloads, SIGTERM stops)',
    usage: 'daemon [--config FILE] [--state-dir DIR] [--stop-on-exit]',
    options: { 'state-dir': { type: 'string' }, 'stop-on-exit': { type: 'boolean' } },
    load: () => import('./daemon.js'),
  },
  ifdown: {
    summary: 'take a WAN out of service until ifup (asks the running daemon)',
    usage: 'ifdown INTERFACE [--state-dir DIR]',
    options: { 'state-dir': { type: 'string' } },
    load: () => import('./ifdown.js'),
  },
  ifup: {
    summary: 'put a WAN taken out by ifdown back under tracking (asks the running daemon)',
    usage: 'ifup INTERFACE [--state-dir DIR]',
    options: { 'state-dir': { type: 'string' } },
    load: () => import('./ifup.js'),
  },
  stop: {
    summary: 'remove exactly what nft-mwan installed (its table, ip rules and routes), nothing else',
    usage: 'stop [--config FILE] [--state-dir DIR]',
    options: { 'state-dir': { type: 'string' } },
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
  // `--try` takes an optional number of seconds (default 120).
  const args = rest.flatMap((a, i) => (a === '--try' && !/^\d+(\.\d+)?$/.test(rest[i + 1] ?? '') ? ['--try=120'] : [a]));
  let parsed;
  try {
    parsed = parseArgs({ args, options: { ...COMMON, ...spec.options }, allowPositionals: true, strict: true });
  } catch (cause) {
    throw new MwanError({ code: 'USAGE', summary: `${(cause as Error).message}\nusage: nft-mwan ${spec.usage}` });
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) {
    out(`usage: nft-mwan ${spec.usage}\n${spec.summary}\n`);
    return EXIT.ok;
  }
  const command = await spec.load();
  return command.default(createContext(values, parsed.positionals, out));
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
    err(`nft-mwan: internal error (a bug, please report): ${(error as Error | undefined)?.stack ?? String(error)}\n`);
    return EXIT.failure;
  }
}

// Run when executed (bin/nft-mwan imports this module's bundle), not when imported by tests.
if (process.argv[1] && /nft-mwan(\.mjs)?$|main\.js$/.test(process.argv[1])) {
  void runCli(process.argv.slice(2)).then((status) => {
    process.exitCode = status;
  });
}
