// The command line of one command, checked against its options: every mistake is one USAGE error naming it.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { MwanError } from '../model/errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** The options every command takes. */
export const COMMON = {
  config: { type: 'string', short: 'c' },
  verbose: { type: 'boolean', short: 'v' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

/** `apply --try` alone means this many seconds. */
export const TRY_DEFAULT_SECONDS = 120;
const TRY_MAX_SECONDS = 3600;

function describe(options: Options): string {
  return Object.entries(options)
    .map(([long, o]) => `${o.short ? `-${o.short}, ` : ''}--${long}${o.type === 'string' ? ' VALUE' : ''}`)
    .join('; ');
}

/**
 * Parses `args` for command `name`. `--try` takes an optional value: the next argument is its value unless it is
 * an option; the value must be whole seconds between 1 and 3600.
 */
export function parseCommandLine(name: string, spec: { usage: string; options: Options; args?: true }, args: readonly string[]): Parsed {
  const options: Options = { ...COMMON, ...spec.options };
  const fail = (what: string): never => {
    throw new MwanError({
      code: 'USAGE',
      summary: `${name}: ${what}\nusage: nft-mwan ${spec.usage}\n${name}'s options: ${describe(spec.options) || '(none of its own)'}\noptions of every command: ${describe(COMMON)}`,
    });
  };
  const expanded: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '--') {
      expanded.push(...args.slice(i));
      break;
    }
    if ('try' in spec.options && a === '--try') {
      const next = args[i + 1];
      const value = next !== undefined && !next.startsWith('-') ? next : String(TRY_DEFAULT_SECONDS);
      if (value === next) i++;
      expanded.push(`--try=${value}`);
    } else expanded.push(a);
  }
  const { tokens } = parseArgs({ args: expanded, options, allowPositionals: true, strict: false, tokens: true });
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    const o = options[t.name];
    if (o === undefined) fail(`unknown option ${t.rawName}`);
    else if (o.type === 'boolean' && t.value !== undefined) fail(`${t.rawName} takes no value`);
    else if (o.type === 'string' && t.value === undefined) fail(`${t.rawName} needs a value`);
  }
  // Every option is known and has the value its type wants: the strict parse cannot fail now.
  const parsed = parseArgs({ args: expanded, options, allowPositionals: true, strict: true });
  if (!spec.args && parsed.positionals.length > 0) fail(`unexpected argument "${parsed.positionals[0] ?? ''}"`);
  const tryValue = parsed.values.try;
  if (typeof tryValue === 'string' && !(/^\d+$/.test(tryValue) && Number(tryValue) >= 1 && Number(tryValue) <= TRY_MAX_SECONDS)) {
    fail(`--try ${tryValue}: give whole seconds from 1 to ${TRY_MAX_SECONDS} (or none: ${TRY_DEFAULT_SECONDS})`);
  }
  return { values: parsed.values as Parsed['values'], positionals: parsed.positionals };
}
