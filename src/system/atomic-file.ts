// Whole-file replacement: a reader sees the old file or the new one, never half of one.
import { closeSync, fchmodSync, openSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';

let writes = 0;

/**
 * Writes `text` to a temp file beside `path` (same filesystem, so the rename is atomic), gives it `mode`
 * whatever the umask, and renames it over `path`. The temp name is unique per write, so two writes in
 * flight never share one, and ends in ".tmp" (a textfile collector's "*.prom" glob skips it). On failure
 * the temp file is removed (a full filesystem still creates it, empty) and the error is thrown.
 */
export async function writeFileAtomic(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.${++writes}.tmp`;
  try {
    const fh = await open(tmp, 'w', mode);
    try {
      await fh.writeFile(text, 'utf8');
      await fh.chmod(mode);
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/**
 * The same, done before returning: for a write that must be on disk before its caller goes on (the apply
 * journal), where each of the asynchronous version's five steps would wait a turn of the event loop.
 */
export function writeFileAtomicSync(path: string, text: string, mode: number): void {
  const tmp = `${path}.${process.pid}.${++writes}.tmp`;
  try {
    const fd = openSync(tmp, 'w', mode);
    try {
      writeFileSync(fd, text, 'utf8');
      fchmodSync(fd, mode);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // Never created, or already gone.
    }
    throw e;
  }
}

/** A JSON file this module wrote, read whole; null when it is missing or not JSON (the caller checks its shape). */
export async function readJsonFile(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as unknown;
  } catch {
    return null;
  }
}
