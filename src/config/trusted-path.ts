// Whether a file root reads (a config, a hook) can only have been written by root: the file and every directory up to /.
import { lstat, realpath, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface PathStat {
  uid: number;
  mode: number;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const STICKY = 0o1000;

/**
 * Why the file itself cannot be trusted, or null: it must be a regular file (a FIFO would block the reader forever,
 * a device is not a config), owned by root and not writable by group or others.
 */
export function fileReason(st: PathStat): string | null {
  if ((st.mode & S_IFMT) !== S_IFREG) return 'it is not a regular file';
  if (st.uid !== 0) return `it is owned by uid ${st.uid}, not root`;
  if ((st.mode & 0o022) !== 0)
    return `it is writable by ${(st.mode & 0o002) !== 0 ? 'anyone' : 'its group'} (mode ${(st.mode & 0o777).toString(8)}); chmod go-w it`;
  return null;
}

/**
 * Why a directory on the way to the file cannot be trusted, or null. As sshd's StrictModes: owned by root and not
 * writable by group or others, since whoever can write a directory can rename the file in it and put their own in its
 * place. A sticky directory owned by root (/tmp) is the exception: there only a file's owner may rename or remove it.
 */
export function directoryReason(path: string, st: PathStat): string | null {
  if ((st.mode & S_IFMT) !== S_IFDIR) return `${path} is not a directory`;
  if (st.uid !== 0) return `directory ${path} is owned by uid ${st.uid}, not root`;
  if ((st.mode & 0o022) !== 0 && (st.mode & STICKY) === 0) {
    return (
      `directory ${path} is writable by ${(st.mode & 0o002) !== 0 ? 'anyone' : 'its group'} (mode ${(st.mode & 0o777).toString(8)}) and not sticky, ` +
      `so the file in it could be swapped; chmod go-w ${path}`
    );
  }
  return null;
}

/** The directories from the file's up to /, nearest first. */
export function ancestors(file: string): string[] {
  const dirs: string[] = [];
  for (let d = dirname(file); ; d = dirname(d)) {
    dirs.push(d);
    if (d === dirname(d)) return dirs;
  }
}

/**
 * Checks a file root is about to read or run, following symbolic links to the real file first: null when it and every
 * directory above it can only be changed by root, else the reason. `kind` says what the file is, for the message.
 * Not checked when not running as root (nothing is gained by a user refusing their own files).
 */
export async function untrustedReason(file: string, uid: number | undefined): Promise<string | null> {
  if (uid !== 0) return null;
  const real = await realpath(file);
  const reason = fileReason(await stat(real));
  if (reason !== null) return real === file ? reason : `${real} (where ${file} leads): ${reason}`;
  for (const dir of ancestors(real)) {
    const r = directoryReason(dir, await lstat(dir));
    if (r !== null) return r;
  }
  return null;
}
