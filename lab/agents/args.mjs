// Command-line parsing shared by the agents: repeated --name value pairs and ip:port endpoints.

/** Parses `--name value` pairs; every option may repeat, so each maps to a list of values. */
export function parseOptions(argv, known) {
  const options = {};
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    const value = argv[i + 1];
    const name = flag?.startsWith('--') ? flag.slice(2) : undefined;
    if (!name || !known.includes(name) || value === undefined) usage(`bad argument "${flag}"; options: ${known.map((k) => `--${k}`).join(' ')}`);
    (options[name] ??= []).push(value);
  }
  return options;
}

/** "192.0.2.10:5001" or "[2001:db8::1]:5001" -> {host, port}. */
export function parseEndpoint(text) {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  if (!m) usage(`bad endpoint "${text}", expected ip:port or [ipv6]:port`);
  return { host: m[1] ?? m[2], port: Number(m[3]) };
}

export function intOption(options, name, fallback) {
  const raw = options[name]?.at(-1);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) usage(`--${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

/** Exit status 2 for bad usage, like nft-mwan itself. */
export function usage(message) {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}
