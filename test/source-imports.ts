// The import specifiers of src/'s TypeScript files, as TypeScript's own pre-parser reads them (static, type-only,
// re-exports and dynamic import(); never a comment or a string).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');

export interface SourceFile {
  /** Relative to src/, with forward slashes: `cli/main.ts`. */
  path: string;
  lines: number;
  imports: Import[];
}

export interface Import {
  specifier: string;
  /** The file imported, relative to src/ (`model/errors.ts`), or null for a package or node: builtin. */
  target: string | null;
}

/** Every .ts file below src/ (or below one of its folders), with its imports. */
export function sourceFiles(under = ''): SourceFile[] {
  const root = join(SRC, under);
  return (readdirSync(root, { recursive: true, encoding: 'utf8' }) as string[])
    .filter((f) => f.endsWith('.ts'))
    .sort()
    .map((f) => readSource(join(root, f)));
}

function readSource(file: string): SourceFile {
  const text = readFileSync(file, 'utf8');
  const path = relative(SRC, file).split('\\').join('/');
  const imports = ts.preProcessFile(text, true, true).importedFiles.map(({ fileName: specifier }): Import => {
    if (!specifier.startsWith('.')) return { specifier, target: null };
    // Sources import each other by their compiled name (./x.js).
    const target = relative(SRC, resolve(dirname(file), specifier))
      .split('\\')
      .join('/')
      .replace(/\.js$/, '.ts');
    return { specifier, target };
  });
  return { path, lines: text.split('\n').length - (text.endsWith('\n') ? 1 : 0), imports };
}

/** The folder of a path relative to src/: `cli/main.ts` -> `cli`; a file directly in src/ is its own folder. */
export function folderOf(path: string): string {
  const slash = path.indexOf('/');
  return slash < 0 ? path : path.slice(0, slash);
}
