// Whole-file replacement: a reader sees the old file or the new one, never half of one.
import { open, rename, unlink } from 'node:fs/promises';

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
