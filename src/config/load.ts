// Reads a config file and validates it; user errors come back as data, never as exceptions.
import { readFile, stat } from 'node:fs/promises';
import type { ConfigIssue, ErrorCode } from '../model/errors.js';
import { MwanError } from '../model/errors.js';
import type { ResolvedConfig } from './resolved.js';
import { validateConfig } from './validate.js';

export const DEFAULT_CONFIG_PATH = '/etc/nft-mwan/config.json';

export type LoadResult =
  | { ok: true; file: string; config: ResolvedConfig }
  | { ok: false; file: string; code: ErrorCode; summary: string; issues: ConfigIssue[] };

/**
 * Running as root, a config anybody else can change would let them steer the router's traffic and name
 * the hooks root runs: it must be owned by root and not writable by group or others. Not checked for other users.
 */
export function insecureReason(st: { uid: number; mode: number }, uid: number | undefined): string | null {
  if (uid === undefined || uid !== 0) return null;
  if (st.uid !== 0) return `it is owned by uid ${st.uid}, not root`;
  if ((st.mode & 0o022) !== 0) return `it is writable by ${(st.mode & 0o002) !== 0 ? 'anyone' : 'its group'} (mode ${(st.mode & 0o777).toString(8)}); chmod go-w it`;
  return null;
}

export async function loadConfig(file: string, read: (f: string) => Promise<string> = (f) => readFile(f, 'utf8')): Promise<LoadResult> {
  const st = await stat(file).catch(() => null);
  const insecure = st && insecureReason(st, process.getuid?.());
  if (insecure) {
    return { ok: false, file, code: 'CONFIG_INSECURE', summary: `refusing the config file: ${insecure}`, issues: [] };
  }
  let text: string;
  try {
    text = await read(file);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    return { ok: false, file, code: 'CONFIG_READ', summary: 'cannot read the config file', issues: [{ path: '', message: reason }] };
  }
  return parseConfigText(file, text);
}

export function parseConfigText(file: string, text: string): LoadResult {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    return { ok: false, file, code: 'CONFIG_SYNTAX', summary: 'the config is not valid JSON', issues: [{ path: '', message: reason }] };
  }
  const result = validateConfig(data);
  if (!result.ok) {
    const n = result.issues.length;
    return { ok: false, file, code: 'CONFIG_INVALID', summary: `invalid config (${n} problem${n === 1 ? '' : 's'})`, issues: result.issues };
  }
  return { ok: true, file, config: result.config };
}

/** For callers that cannot go on without a config (the CLI): the failure as one MwanError. */
export function configOrThrow(result: LoadResult): ResolvedConfig {
  if (result.ok) return result.config;
  throw new MwanError({ code: result.code, summary: result.summary, file: result.file, issues: result.issues });
}
