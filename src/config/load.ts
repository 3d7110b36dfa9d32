// Reads a config file and validates it; user errors come back as data, never as exceptions.
import { readFile, stat } from 'node:fs/promises';
import type { ConfigIssue, ErrorCode } from '../model/errors.js';
import { MwanError } from '../model/errors.js';
import type { ResolvedConfig } from './resolved.js';
import { validateConfig } from './validate.js';
import { parseDocument } from './parse.js';
import { untrustedReason } from './trusted-path.js';

export const DEFAULT_CONFIG_PATH = '/etc/nft-mwan/config.json';

export type LoadResult =
  { ok: true; file: string; config: ResolvedConfig } | { ok: false; file: string; code: ErrorCode; summary: string; issues: ConfigIssue[] };

/**
 * Running as root, a config anybody else can change would let them steer the router's traffic and name the hooks
 * root runs: the file must be a regular file that only root can write, in directories only root can write.
 */
export async function loadConfig(file: string, read: (f: string) => Promise<string> = (f) => readFile(f, 'utf8')): Promise<LoadResult> {
  let insecure: string | null;
  try {
    insecure = await untrustedReason(file, process.getuid?.());
    // A FIFO or a device would block the read (or never end): regular files only, whoever runs this.
    if (insecure === null && !(await stat(file)).isFile()) insecure = 'it is not a regular file';
  } catch (cause) {
    return { ok: false, file, code: 'CONFIG_READ', summary: 'cannot read the config file', issues: [{ path: '', message: reasonOf(cause) }] };
  }
  if (insecure !== null) {
    const code = insecure === 'it is not a regular file' ? 'CONFIG_READ' : 'CONFIG_INSECURE';
    return { ok: false, file, code, summary: `refusing the config file: ${insecure}`, issues: [] };
  }
  let text: string;
  try {
    text = await read(file);
  } catch (cause) {
    return { ok: false, file, code: 'CONFIG_READ', summary: 'cannot read the config file', issues: [{ path: '', message: reasonOf(cause) }] };
  }
  return parseConfigText(file, text);
}

const reasonOf = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause));

export function parseConfigText(file: string, text: string): LoadResult {
  const parsed = parseDocument(text);
  if (!parsed.ok) return { ok: false, file, code: 'CONFIG_SYNTAX', summary: 'the config is not valid JSON', issues: parsed.issues };
  const result = validateConfig(parsed.value);
  if (!result.ok) {
    const n = result.issues.length;
    // Each problem points at its place in the file, as an editor or a compiler would.
    const issues = result.issues
      .map((issue) => ({ ...issue, ...parsed.locate(issue.path) }))
      .sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
    return { ok: false, file, code: 'CONFIG_INVALID', summary: `invalid config (${n} problem${n === 1 ? '' : 's'})`, issues };
  }
  return { ok: true, file, config: result.config };
}

/** For callers that cannot go on without a config (the CLI): the failure as one MwanError. */
export function configOrThrow(result: LoadResult): ResolvedConfig {
  if (result.ok) return result.config;
  throw new MwanError({ code: result.code, summary: result.summary, file: result.file, issues: result.issues });
}
