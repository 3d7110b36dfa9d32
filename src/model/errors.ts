// The one error type of nft-mwan: data fields first, message built from them in one place.

/** Every error code nft-mwan raises; docs/errors.md documents each one. */
export type ErrorCode =
  | 'CONFIG_READ' // the config file could not be read
  | 'CONFIG_SYNTAX' // not valid JSON
  | 'CONFIG_INVALID' // schema or semantic violations (issues listed)
  | 'CONFIG_INSECURE' // running as root, the config file is writable or owned by someone else
  | 'GATEWAY_NOT_FOUND' // gateway "auto" with no default route through the device
  | 'USAGE' // bad command line
  | 'COMMAND_FAILED' // an external command (nft, ip, conntrack) exited non-zero
  | 'COMMAND_TIMEOUT' // an external command did not finish in time
  | 'COMMAND_MISSING' // an external command is not installed
  | 'VERIFY_MISMATCH' // the table read back differs from the one applied
  | 'ROLLBACK_FAILED' // a failed apply could not be undone completely
  | 'NOT_INSTALLED' // status/stop found nothing of nft-mwan's
  | 'NOT_RUNNING' // ifup/ifdown found no daemon to ask
  | 'DAEMON' // the daemon refused a request or could not be talked to
  | 'NOT_ROOT' // a command that needs root (the kernel's tables, the daemon's socket) was run without it
  | 'TRY_REFUSED' // apply --try cannot guarantee a rollback (or confirm found nothing pending)
  | 'TRY_ROLLED_BACK' // apply --try was not confirmed: the previous state is back
  | 'TABLE_NOT_OWNED' // globals.table names a table nft-mwan did not create: it is never replaced or deleted
  | 'BUSY' // another apply, stop or try of this network namespace held the apply lock too long
  | 'INTERNAL'; // a bug

/** Exit statuses: 0 success, 2 bad usage, 77 not root (EX_NOPERM), 78 invalid config (EX_CONFIG), 1 any runtime failure. */
export const EXIT = { ok: 0, failure: 1, usage: 2, noPermission: 77, config: 78 } as const;

export function exitStatusFor(code: ErrorCode): number {
  switch (code) {
    case 'USAGE':
      return EXIT.usage;
    case 'NOT_ROOT':
      return EXIT.noPermission;
    case 'CONFIG_READ':
    case 'CONFIG_SYNTAX':
    case 'CONFIG_INVALID':
    case 'CONFIG_INSECURE':
      return EXIT.config;
    default:
      return EXIT.failure;
  }
}

/** One problem found in a config: where (file + JSON pointer) and what. */
export interface ConfigIssue {
  /** JSON pointer into the config, e.g. /policies/balanced/members/1/interface ("" = whole document). */
  path: string;
  message: string;
  /** Where in the file, 1-based, when the text was parsed (every issue of a config file has it). */
  line?: number;
  column?: number;
  /** The offending line itself, for syntax errors (shown under the message with a caret). */
  source?: string;
}

export interface MwanErrorFields {
  code: ErrorCode;
  /** Human summary of what was being done, e.g. "apply the nftables batch". */
  summary: string;
  file?: string;
  issues?: readonly ConfigIssue[];
  /** The command as it would be typed, shell-escaped for display only. */
  command?: string;
  exitCode?: number;
  stderr?: string;
  cause?: unknown;
}

export class MwanError extends Error {
  readonly code: ErrorCode;
  readonly summary: string;
  readonly file: string | undefined;
  readonly issues: readonly ConfigIssue[];
  readonly command: string | undefined;
  readonly exitCode: number | undefined;
  readonly stderr: string | undefined;

  constructor(fields: MwanErrorFields) {
    super(formatMessage(fields), fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = 'MwanError';
    this.code = fields.code;
    this.summary = fields.summary;
    this.file = fields.file;
    this.issues = fields.issues ?? [];
    this.command = fields.command;
    this.exitCode = fields.exitCode;
    this.stderr = fields.stderr;
  }

  get exitStatus(): number {
    return exitStatusFor(this.code);
  }
}

/**
 * One issue: `  /json/pointer: message (FILE:LINE:COLUMN)`, or for a syntax error, which has no pointer,
 * `  FILE:LINE:COLUMN: message` with the line and a caret under the column.
 */
function issueLines(issue: ConfigIssue, file: string | undefined): string[] {
  const where = issue.line === undefined ? null : `${file ?? '(config)'}:${issue.line}:${issue.column ?? 1}`;
  if (issue.source === undefined || where === null) return [`  ${issue.path || '/'}: ${issue.message}${where === null ? '' : ` (${where})`}`];
  const caret = `${issue.source.slice(0, Math.max(0, (issue.column ?? 1) - 1)).replace(/[^\t]/g, ' ')}^`;
  return [`  ${where}: ${issue.path ? `${issue.path}: ` : ''}${issue.message}`, `  | ${issue.source}`, `  | ${caret}`];
}

function formatMessage(f: MwanErrorFields): string {
  const lines = [f.file ? `${f.file}: ${f.summary}` : f.summary];
  for (const issue of f.issues ?? []) lines.push(...issueLines(issue, f.file));
  if (f.command) lines.push(`  command: ${f.command}`);
  if (f.exitCode !== undefined) lines.push(`  exit code: ${f.exitCode}`);
  const stderr = f.stderr?.trim();
  if (stderr) lines.push(...stderr.split('\n').map((l) => `  | ${l}`));
  return lines.join('\n');
}
