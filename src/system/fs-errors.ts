// Which filesystem errors mean "this filesystem takes no write now" (full, over quota, read-only), not a bad path.

export function unwritable(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'EROFS';
}
