// Config text -> data, with the place of every problem: JSON with comments, duplicate keys refused, positions kept.
import { createScanner, findNodeAtLocation, getNodeValue, parseTree, printParseErrorCode, SyntaxKind, type Node, type ParseError } from 'jsonc-parser';
import type { ConfigIssue } from '../model/errors.js';

/** Deeper nesting than any config needs is refused before parsing (a recursive parser would overflow its stack). */
export const MAX_DEPTH = 64;

export interface Position {
  line: number;
  column: number;
}

export type ParsedDocument = { ok: true; value: unknown; locate: (pointer: string) => Position | undefined } | { ok: false; issues: ConfigIssue[] };

/** What the parser's error codes mean, in the words a user fixing the file needs. */
const MESSAGES: Readonly<Record<string, string>> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'invalid number',
  PropertyNameExpected: 'expected a property name in double quotes',
  ValueExpected: 'expected a value',
  ColonExpected: "expected ':' after the property name",
  CommaExpected: "expected ',' between values",
  CloseBraceExpected: "expected '}' to close the object",
  CloseBracketExpected: "expected ']' to close the array",
  EndOfFileExpected: 'expected the end of the file after the top-level value',
  InvalidCommentToken: 'invalid comment',
  UnexpectedEndOfComment: 'the comment is not closed',
  UnexpectedEndOfString: 'the string is not closed',
  UnexpectedEndOfNumber: 'the number is cut short',
  InvalidUnicode: 'invalid \\u escape',
  InvalidEscapeCharacter: 'invalid escape character',
  InvalidCharacter: 'invalid character in a string (control characters must be escaped)',
};

/**
 * Parses config text: JSON, with // and /* *\/ comments allowed (as editors' settings files do). Every syntax
 * error, a duplicate key and excessive nesting come back as issues with their line and column and the line itself.
 */
export function parseDocument(text: string): ParsedDocument {
  // Most files are plain JSON without a duplicate key: JSON.parse reads them, and the checks of plainParsed prove
  // them plain without a scan in JS, which spares building the tree with positions (a third of `apply`'s own CPU
  // at 1,000 rules). The tree is built only when a problem must be located; anything else (comments, a
  // duplicate, an error) takes the full path.
  const fast = tryJsonParse(text);
  if (fast !== undefined && plainParsed(text, fast.value)) {
    let tree: Node | undefined;
    let lines: LineIndex | undefined;
    return {
      ok: true,
      value: fast.value,
      locate: (pointer) => {
        tree ??= parseTree(text, [], { disallowComments: false, allowTrailingComma: false, allowEmptyContent: false });
        const node = tree === undefined ? undefined : nearestNode(tree, pointer);
        if (node === undefined) return undefined;
        lines ??= new LineIndex(text);
        return lines.at(node.offset);
      },
    };
  }
  const lines = new LineIndex(text);
  const tooDeep = nestingBeyond(text, MAX_DEPTH);
  if (tooDeep !== null) return { ok: false, issues: [lines.issue(tooDeep, `nested deeper than ${MAX_DEPTH} levels (not valid for this config)`)] };

  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { disallowComments: false, allowTrailingComma: false, allowEmptyContent: false });
  if (errors.length > 0 || root === undefined) {
    // The first error only: the parser's recovery after it reports consequences, not further mistakes.
    const first = errors[0];
    // No error but no value: the file holds nothing (or only comments).
    if (first === undefined) return { ok: false, issues: [lines.issue(0, 'the file holds no JSON value (not valid JSON)')] };
    const code = printParseErrorCode(first.error);
    return { ok: false, issues: [lines.issue(first.offset, `${MESSAGES[code] ?? code} (not valid JSON)`)] };
  }
  const duplicates = duplicateKeys(root).map((d) => lines.issue(d.offset, `duplicate key "${d.key}" (the first is at line ${lines.at(d.first).line})`, d.path));
  if (duplicates.length > 0) return { ok: false, issues: duplicates };

  return {
    ok: true,
    value: getNodeValue(root),
    locate: (pointer) => {
      const node = nearestNode(root, pointer);
      return node === undefined ? undefined : lines.at(node.offset);
    },
  };
}

/**
 * Whether `text` is one JSON value the full path would accept as it is: no comment, nesting within MAX_DEPTH, no
 * key twice in one object, no `__proto__` key (the tree's reader and JSON.parse treat that one differently).
 * One scan without recursion; a syntax error is left to JSON.parse (which then fails: the full path reports it).
 */
export function plainJson(text: string): boolean {
  const scanner = createScanner(text, false);
  // Per open object or array: the keys seen (null for an array), and whether the next string is a key.
  const open: { keys: Set<string> | null; keyNext: boolean }[] = [];
  for (let kind = scanner.scan(); kind !== SyntaxKind.EOF; kind = scanner.scan()) {
    const top = open[open.length - 1];
    switch (kind) {
      case SyntaxKind.LineCommentTrivia:
      case SyntaxKind.BlockCommentTrivia:
      case SyntaxKind.Unknown:
        return false;
      case SyntaxKind.OpenBraceToken:
      case SyntaxKind.OpenBracketToken:
        if (top?.keys) top.keyNext = false;
        if (open.length >= MAX_DEPTH) return false;
        open.push({ keys: kind === SyntaxKind.OpenBraceToken ? new Set() : null, keyNext: kind === SyntaxKind.OpenBraceToken });
        break;
      case SyntaxKind.CloseBraceToken:
      case SyntaxKind.CloseBracketToken:
        open.pop();
        break;
      case SyntaxKind.CommaToken:
        if (top?.keys) top.keyNext = true;
        break;
      case SyntaxKind.StringLiteral:
        if (top?.keys && top.keyNext) {
          const key = scanner.getTokenValue();
          if (key === '__proto__' || top.keys.has(key)) return false;
          top.keys.add(key);
          top.keyNext = false;
        }
        break;
      default:
      // White space, ':' and values: a value never follows a key without its ':' in text JSON.parse accepts.
    }
  }
  return true;
}

/**
 * plainJson(text) for a text JSON.parse has read as `value`, answered with a few calls into the engine's own
 * code instead of a scan in JS (an apply runs cold: the scan alone cost more than JSON.parse). A text without a
 * backslash holds every string literally, so JSON.stringify writes the same strings back: its colons equal the
 * text's unless JSON.parse dropped a duplicate key (and its value) on the way, and its one-space indentation
 * reaches 64 only below 64 levels of nesting. A backslash or a "__proto__" anywhere leaves it to the scan.
 */
export function plainParsed(text: string, value: unknown): boolean {
  if (text.includes('\\') || text.includes('"__proto__"')) return plainJson(text);
  let written: string;
  try {
    written = JSON.stringify(value, null, 1);
  } catch {
    return plainJson(text); // nesting too deep for the engine's recursion, far beyond the limit
  }
  if (count(written, ':') !== count(text, ':')) return false;
  // A line indented 64 spaces lies inside 64 levels: deeper than allowed, or exactly at the limit (the scan tells).
  return written.includes(`\n${' '.repeat(MAX_DEPTH)}`) ? plainJson(text) : true;
}

function count(text: string, char: string): number {
  let n = 0;
  for (let i = text.indexOf(char); i >= 0; i = text.indexOf(char, i + 1)) n++;
  return n;
}

function tryJsonParse(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}

/** The offset where nesting first exceeds `max`, found with the scanner (no recursion), or null. */
function nestingBeyond(text: string, max: number): number | null {
  const scanner = createScanner(text, false);
  let depth = 0;
  for (let kind = scanner.scan(); kind !== SyntaxKind.EOF; kind = scanner.scan()) {
    if (kind === SyntaxKind.OpenBraceToken || kind === SyntaxKind.OpenBracketToken) {
      if (++depth > max) return scanner.getTokenOffset();
    } else if (kind === SyntaxKind.CloseBraceToken || kind === SyntaxKind.CloseBracketToken) {
      depth--;
    }
  }
  return null;
}

/** Every key that appears twice in one object (JSON.parse would keep the last silently). */
function duplicateKeys(root: Node): { key: string; offset: number; first: number; path: string }[] {
  const found: { key: string; offset: number; first: number; path: string }[] = [];
  const stack: { node: Node; path: string }[] = [{ node: root, path: '' }];
  while (stack.length > 0) {
    const { node, path } = stack.pop() as { node: Node; path: string };
    if (node.type === 'object') {
      const seen = new Map<string, number>();
      for (const property of node.children ?? []) {
        const [keyNode, valueNode] = property.children ?? [];
        if (keyNode === undefined) continue;
        const key = String(keyNode.value);
        const childPath = `${path}/${escapePointer(key)}`;
        const first = seen.get(key);
        if (first !== undefined) found.push({ key, offset: keyNode.offset, first, path: childPath });
        else seen.set(key, keyNode.offset);
        if (valueNode !== undefined) stack.push({ node: valueNode, path: childPath });
      }
    } else if (node.type === 'array') {
      (node.children ?? []).forEach((child, i) => stack.push({ node: child, path: `${path}/${i}` }));
    }
  }
  return found.sort((a, b) => a.offset - b.offset);
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The node a JSON pointer names, or its nearest ancestor that exists (a missing property points at its object). */
function nearestNode(root: Node, pointer: string): Node | undefined {
  const segments =
    pointer === ''
      ? []
      : pointer
          .slice(1)
          .split('/')
          .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  for (let n = segments.length; n >= 0; n--) {
    const path = segments.slice(0, n).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    const node = findNodeAtLocation(root, path);
    if (node !== undefined) {
      // A property's value: point at its key, where the reader looks for it.
      const key = node.parent?.type === 'property' ? node.parent.children?.[0] : undefined;
      return key ?? node;
    }
  }
  return undefined;
}

/** Offsets -> 1-based line and column, and the text of a line. */
class LineIndex {
  private readonly starts: number[] = [0];

  constructor(private readonly text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }

  at(offset: number): Position {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (this.starts[lo] as number) + 1 };
  }

  issue(offset: number, message: string, path = ''): ConfigIssue {
    const { line, column } = this.at(offset);
    const start = this.starts[line - 1] as number;
    const end = this.text.indexOf('\n', start);
    const source = this.text.slice(start, end === -1 ? undefined : end).replace(/\r$/, '');
    return { path, message, line, column, source };
  }
}
