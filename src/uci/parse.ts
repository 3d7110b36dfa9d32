// Parses an OpenWrt UCI config file (/etc/config/mwan3, /etc/config/network) into its sections, as libuci reads it.
//
// The grammar and its corner cases follow libuci's file.c (uci_import), so a file gives the values `uci` gives:
// - a line holds commands separated by `;`: `config TYPE [NAME]`, `option NAME VALUE`, `list NAME VALUE`,
//   `package NAME` (checked, then ignored: the file name is the package). Like uci, the keywords may be
//   abbreviated to their first letter.
// - a word is made of adjacent segments: unquoted, 'single quoted' (taken literally) and "double quoted"; outside
//   single quotes a backslash takes the next character literally, and a backslash at the end of a line joins the
//   next line. Quoted segments may span lines and keep their newlines.
// - `#` outside quotes starts a comment that runs to the end of the line, even in the middle of a word (uci cuts
//   `foo#bar` to `foo`).
// - a named section declared again with the same type is the same section (its options add up); `option` with an
//   empty value sets nothing (uci skips it); `list` after `option` of the same name turns the option into the
//   list's first item, and `option` after `list` replaces the list.
// Stricter than uci on purpose: a missing value is an error (uci silently ignores `option name` alone).
import { MwanError } from '../model/errors.js';

export interface UciSection {
  type: string; // e.g. "interface"
  name: string | null; // null for anonymous sections
  /** Position among sections of the same type (uci's @type[index]). */
  index: number;
  options: Record<string, string>; // `option key value` (a later option with the same key replaces, as uci does)
  lists: Record<string, string[]>; // `list key value` in order
  line: number; // 1-based line of the `config` keyword
}

/** How uci names a section: its name, or @type[index] for an anonymous one. */
export function sectionId(s: UciSection): string {
  return s.name ?? `@${s.type}[${s.index}]`;
}

/** One word of a command, with its quotes, escapes and line continuations resolved. */
interface Word {
  text: string;
  /** As written in the file, for messages. */
  raw: string;
  /** 1-based line where the word starts. */
  line: number;
}

/** The words of one command: a line, or the part of a line up to a `;`. Never empty. */
type Command = [Word, ...Word[]];

type Fail = (line: number, what: string) => never;

const KEYWORDS = new Map<string, 'config' | 'option' | 'list' | 'package'>([
  ['config', 'config'],
  ['c', 'config'],
  ['option', 'option'],
  ['o', 'option'],
  ['list', 'list'],
  ['l', 'list'],
  ['package', 'package'],
  ['p', 'package'],
]);

// libuci's rules (uci_validate_str): names are shell variable material, types any printable ASCII but space.
const NAME = /^[A-Za-z0-9_]+$/;
const PACKAGE_NAME = /^[A-Za-z0-9_-]+$/;
const TYPE = /^[\x21-\x7e]+$/;

/**
 * The sections of a UCI file in file order. Throws MwanError CONFIG_SYNTAX naming the file, the line and what was
 * expected, e.g. `/etc/config/mwan3:12: expected an option name after "option"`.
 */
export function parseUci(text: string, file: string): UciSection[] {
  const fail: Fail = (line, what) => {
    throw new MwanError({ code: 'CONFIG_SYNTAX', summary: `${file}:${line}: ${what}` });
  };
  const sections: UciSection[] = [];
  const named = new Map<string, UciSection>();
  const countByType = new Map<string, number>();
  let current: UciSection | null = null;

  for (const [keyword, ...args] of tokenize(text, fail)) {
    const command = KEYWORDS.get(keyword.raw);
    switch (command) {
      case 'package': {
        const name = argument(args, 0, keyword, `expected a package name after ${quote(keyword.raw)}`, fail);
        if (!PACKAGE_NAME.test(name.text)) fail(name.line, `invalid package name ${quote(name.text)}: expected letters, digits, _ and - only`);
        expectEnd(args, 1, `the ${quote(keyword.raw)} line`, fail);
        break;
      }
      case 'config': {
        const type = argument(args, 0, keyword, `expected a section type after ${quote(keyword.raw)}`, fail);
        if (!TYPE.test(type.text)) fail(type.line, `invalid section type ${quote(type.text)}: expected printable ASCII characters and no spaces`);
        const nameWord = args[1];
        const name = nameWord?.text ?? ''; // `config TYPE ''` is anonymous too, as in uci
        if (nameWord && name !== '' && !NAME.test(name)) fail(nameWord.line, `invalid section name ${quote(name)}: expected letters, digits and _ only`);
        expectEnd(args, 2, `the ${quote(keyword.raw)} line`, fail);

        const existing = name === '' ? undefined : named.get(name);
        if (existing) {
          if (existing.type !== type.text) {
            fail(
              keyword.line,
              `section ${quote(name)} was declared with type ${quote(existing.type)} on line ${existing.line}: ` +
                `expected the same type, found ${quote(type.text)}`,
            );
          }
          current = existing;
          break;
        }
        const index = countByType.get(type.text) ?? 0;
        countByType.set(type.text, index + 1);
        current = { type: type.text, name: name === '' ? null : name, index, options: dictionary(), lists: dictionary(), line: keyword.line };
        sections.push(current);
        if (current.name !== null) named.set(current.name, current);
        break;
      }
      case 'option':
      case 'list': {
        if (!current) fail(keyword.line, `expected a "config" line before the first ${quote(keyword.raw)}`);
        const name = argument(args, 0, keyword, `expected an option name after ${quote(keyword.raw)}`, fail);
        if (!NAME.test(name.text)) fail(name.line, `invalid option name ${quote(name.text)}: expected letters, digits and _ only`);
        const value = argument(args, 1, name, `expected a value after ${quote(`${keyword.raw} ${name.text}`)}`, fail);
        expectEnd(args, 2, `the ${quote(keyword.raw)} line after the value`, fail, ' (quote a value that contains spaces)');
        if (command === 'list') addToList(current, name.text, value.text);
        else setOption(current, name.text, value.text);
        break;
      }
      default:
        fail(keyword.line, `expected "config", "option", "list" or "package", found ${quote(keyword.raw)}`);
    }
  }
  return sections;
}

/** uci_set: an empty value sets nothing; otherwise the value replaces an option or a list of that name. */
function setOption(section: UciSection, name: string, value: string): void {
  if (value === '') return;
  // Option and list names are data (whatever the file names): a section keeps them in plain records by name.
  // eslint-disable-next-line @typescript-eslint/no-dynamic-delete
  delete section.lists[name];
  section.options[name] = value;
}

/** uci_add_list: an option of that name becomes the list's first item. */
function addToList(section: UciSection, name: string, value: string): void {
  const list = (section.lists[name] ??= []);
  const option = section.options[name];
  if (option !== undefined) {
    list.push(option);
    // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- option names are data, as in setOption
    delete section.options[name];
  }
  list.push(value);
}

/** No prototype: `option constructor x` or `option __proto__ x` are plain keys here. */
function dictionary<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** args[i], or a failure on the line of the word it should have followed. */
function argument(args: Word[], i: number, after: Word, expected: string, fail: Fail): Word {
  return args[i] ?? fail((args[i - 1] ?? after).line, expected);
}

function expectEnd(args: Word[], count: number, what: string, fail: Fail, hint = ''): void {
  const extra = args[count];
  if (extra) fail(extra.line, `expected the end of ${what}, found ${quote(extra.raw)}${hint}`);
}

function quote(s: string): string {
  return JSON.stringify(s);
}

/** C's isspace, which libuci uses to end words. */
function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f';
}

/** Splits the file into commands of words, dropping comments. */
function tokenize(source: string, fail: Fail): Command[] {
  const commands: Command[] = [];
  let words: Word[] = [];
  let pos = 0;
  let line = 1;

  const endCommand = (): void => {
    const [first, ...rest] = words;
    if (first) commands.push([first, ...rest]);
    words = [];
  };

  while (pos < source.length) {
    const c = source[pos];
    if (c === '\n') {
      endCommand();
      pos++;
      line++;
    } else if (c === ';') {
      endCommand();
      pos++;
    } else if (c === '#') {
      while (pos < source.length && source[pos] !== '\n') pos++;
    } else if (isSpace(c)) {
      pos++;
    } else {
      words.push(readWord());
    }
  }
  endCommand();
  return commands;

  function readWord(): Word {
    const start = pos;
    const startLine = line;
    let text = '';
    // Like libuci's parse_str: segments until a space. A continuation right before a space therefore ends the
    // word (possibly empty), as it does in uci.
    do {
      const c = source[pos];
      if (c === "'") text += readSingleQuoted();
      else if (c === '"') text += readDoubleQuoted();
      else if (c === '\\') text += readEscape();
      else if (c === '#' || c === ';')
        break; // a comment or the next command starts inside the word
      else {
        text += c as string; // pos < source.length: the loop's condition, and readWord's caller's
        pos++;
      }
    } while (pos < source.length && !isSpace(source[pos]));
    return { text, raw: source.slice(start, pos), line: startLine };
  }

  function readSingleQuoted(): string {
    const end = source.indexOf("'", pos + 1);
    if (end < 0) fail(line, `unterminated '...' string: expected a closing ' before the end of the file`);
    const text = source.slice(pos + 1, end);
    line += text.split('\n').length - 1;
    pos = end + 1;
    return text;
  }

  function readDoubleQuoted(): string {
    const openLine = line;
    let text = '';
    pos++;
    while (pos < source.length && source[pos] !== '"') {
      if (source[pos] === '\\') {
        text += readEscape();
      } else {
        if (source[pos] === '\n') line++;
        text += source[pos] as string; // pos < source.length: the loop's condition
        pos++;
      }
    }
    if (pos >= source.length) fail(openLine, `unterminated "..." string: expected a closing " before the end of the file`);
    pos++;
    return text;
  }

  /** At a backslash: a line continuation gives nothing, any other character is taken literally. */
  function readEscape(): string {
    pos++;
    for (const newline of ['\n', '\r\n']) {
      if (source.startsWith(newline, pos)) {
        pos += newline.length;
        line++;
        return '';
      }
    }
    const c = source[pos] ?? ''; // a backslash at the very end of the file is dropped
    pos += c.length;
    return c;
  }
}
