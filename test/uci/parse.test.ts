// The UCI parser gives the sections, options and lists libuci would, and names the file and line of every error.
import { describe, expect, it } from 'vitest';
import { MwanError } from '../../src/model/errors.js';
import { parseUci, type UciSection } from '../../src/uci/parse.js';

const FILE = '/etc/config/mwan3';

const lines = (...ls: string[]): string => ls.join('\n') + '\n';

/** The options and lists of the only section of `config t 's'` followed by these lines. */
const body = (...ls: string[]): Pick<UciSection, 'options' | 'lists'> => {
  const sections = parseUci(lines("config t 's'", ...ls), FILE);
  expect(sections).toHaveLength(1);
  const { options, lists } = sections[0]!;
  return { options, lists };
};

const value = (v: string): string | undefined => body(`\toption v ${v}`).options.v;

const syntaxError = (text: string): MwanError => {
  try {
    parseUci(text, FILE);
  } catch (e) {
    expect(e).toBeInstanceOf(MwanError);
    return e as MwanError;
  }
  throw new Error('parseUci accepted the text');
};

const MWAN3 = `
config globals 'globals'
	option mmx_mask '0x3F00'
	option logging '1'

config interface 'wan'
	option enabled '1'
	list track_ip '8.8.4.4'
	list track_ip '8.8.8.8'
	list track_ip '208.67.222.222'
	option family 'ipv4'
	option reliability '2'
	option count '1'
	option timeout '2'
	option interval '5'
	option down '3'
	option up '8'

config interface 'wan6'
	option enabled '0'
	list track_ip '2001:4860:4860::8844'
	option family 'ipv6'

config interface 'wanb'
	option enabled '1'
	list track_ip '1.0.0.1'
	option family 'ipv4'
	option reliability '1'

config member 'wan_m1_w3'
	option interface 'wan'
	option metric '1'
	option weight '3'

config member 'wanb_m1_w2'
	option interface 'wanb'
	option metric '1'
	option weight '2'

config member 'wanb_m2_w2'
	option interface 'wanb'
	option metric '2'
	option weight '2'

config policy 'balanced'
	list use_member 'wan_m1_w3'
	list use_member 'wanb_m1_w2'

config policy 'wan_wanb'
	list use_member 'wan_m1_w3'
	list use_member 'wanb_m2_w2'
	option last_resort 'unreachable'

config rule 'https'
	option sticky '1'
	option dest_port '443'
	option proto 'tcp'
	option use_policy 'balanced'

config rule 'voip'
	option dest_ip '198.51.100.0/24 203.0.113.7'
	option dest_port "5060:5061"
	option proto 'udp'
	option timeout "600"
	option use_policy wan_wanb

config rule 'default_rule'
	option dest_ip '0.0.0.0/0'
	option use_policy 'balanced'
`;

describe('parseUci', () => {
  it('reads a realistic mwan3 config: every section in order, with its options, lists, index and line', () => {
    const sections = parseUci(MWAN3, FILE);
    const brief = sections.map((s) => [s.type, s.name, s.index, s.line]);
    expect(brief).toEqual([
      ['globals', 'globals', 0, 2],
      ['interface', 'wan', 0, 6],
      ['interface', 'wan6', 1, 19],
      ['interface', 'wanb', 2, 24],
      ['member', 'wan_m1_w3', 0, 30],
      ['member', 'wanb_m1_w2', 1, 35],
      ['member', 'wanb_m2_w2', 2, 40],
      ['policy', 'balanced', 0, 45],
      ['policy', 'wan_wanb', 1, 49],
      ['rule', 'https', 0, 54],
      ['rule', 'voip', 1, 60],
      ['rule', 'default_rule', 2, 67],
    ]);
    const byName = new Map(sections.map((s) => [s.name, s]));
    expect(byName.get('globals')).toEqual({
      type: 'globals',
      name: 'globals',
      index: 0,
      options: { mmx_mask: '0x3F00', logging: '1' },
      lists: {},
      line: 2,
    });
    expect(byName.get('wan')!.lists).toEqual({ track_ip: ['8.8.4.4', '8.8.8.8', '208.67.222.222'] });
    expect(byName.get('wan')!.options).toEqual({ enabled: '1', family: 'ipv4', reliability: '2', count: '1', timeout: '2', interval: '5', down: '3', up: '8' });
    expect(byName.get('wan6')!.lists).toEqual({ track_ip: ['2001:4860:4860::8844'] });
    expect(byName.get('wanb_m2_w2')!.options).toEqual({ interface: 'wanb', metric: '2', weight: '2' });
    expect(byName.get('wan_wanb')).toMatchObject({ options: { last_resort: 'unreachable' }, lists: { use_member: ['wan_m1_w3', 'wanb_m2_w2'] } });
    expect(byName.get('https')!.options).toEqual({ sticky: '1', dest_port: '443', proto: 'tcp', use_policy: 'balanced' });
    expect(byName.get('voip')!.options).toEqual({
      dest_ip: '198.51.100.0/24 203.0.113.7',
      dest_port: '5060:5061',
      proto: 'udp',
      timeout: '600',
      use_policy: 'wan_wanb',
    });
  });

  it("numbers anonymous and named sections together per type, as uci's @type[index] does", () => {
    const sections = parseUci(
      lines(
        'config rule', // anonymous
        "\toption proto 'tcp'",
        "config policy 'p'",
        "config rule 'named'",
        "config rule ''", // an empty name is anonymous too
        '\toption proto udp',
        'config policy',
      ),
      FILE,
    );
    expect(sections.map((s) => [s.type, s.name, s.index, s.line])).toEqual([
      ['rule', null, 0, 1],
      ['policy', 'p', 0, 3],
      ['rule', 'named', 1, 4],
      ['rule', null, 2, 5],
      ['policy', null, 1, 7],
    ]);
    expect(sections[0]!.options).toEqual({ proto: 'tcp' });
    expect(sections[3]!.options).toEqual({ proto: 'udp' });
  });

  it.each<[string, string, string]>([
    ['an unquoted word', 'dhcp', 'dhcp'],
    ['single quotes keep spaces', "'a b  c'", 'a b  c'],
    ['double quotes keep spaces', '"a b  c"', 'a b  c'],
    ["'\\'' puts a single quote into a single-quoted value", "'it'\\''s'", "it's"],
    ['adjacent unquoted, single- and double-quoted parts join', 'foo\'bar\'"baz"', 'foobarbaz'],
    ['\\" inside double quotes', '"say \\"hi\\""', 'say "hi"'],
    ['\\\\ inside double quotes', '"back\\\\slash"', 'back\\slash'],
    ['a backslash before any other character inside double quotes gives that character', '"a\\nb\\$c"', 'anb$c'],
    ['single quotes take backslashes and double quotes literally', '\'C:\\dir "x"\'', 'C:\\dir "x"'],
    ['a backslash outside quotes escapes a space', 'a\\ b', 'a b'],
    ['# inside quotes is not a comment', '\'#1\'"#2"x', '#1#2x'],
    ['; inside quotes does not end the command', "'a;b'", 'a;b'],
    ['a double quote inside single quotes', '\'say "hi"\'', 'say "hi"'],
  ])('quoting: %s', (_what, written, expected) => {
    expect(value(written)).toBe(expected);
  });

  it('quoted values may span lines and keep their newlines; later line numbers stay right', () => {
    const sections = parseUci(lines("config t 'a'", "\toption single 'one", "two'", '\toption double "three', 'four"', "config t 'b'"), FILE);
    expect(sections[0]!.options).toEqual({ single: 'one\ntwo', double: 'three\nfour' });
    expect(sections[1]!.line).toBe(6);
  });

  it('a backslash at the end of a line continues it, outside quotes and inside double quotes', () => {
    const sections = parseUci(
      lines(
        "config t 'a'",
        '\toption \\',
        'outside value',
        '\toption inside "one \\',
        'two"',
        '\toption mid ab\\',
        'cd',
        "\toption single 'x\\",
        "y'",
        "config t 'b'",
      ),
      FILE,
    );
    // Inside single quotes the backslash and the newline are kept, as uci keeps them.
    expect(sections[0]!.options).toEqual({ outside: 'value', inside: 'one two', mid: 'abcd', single: 'x\\\ny' });
    expect(sections[1]!.line).toBe(10);
  });

  it('a continuation works with CRLF line endings, which are otherwise whitespace', () => {
    const sections = parseUci("config t 'a'\r\n\toption x 'y'\r\n\toption z a\\\r\nb\r\nconfig t 'b'\r\n", FILE);
    expect(sections[0]!.options).toEqual({ x: 'y', z: 'ab' });
    expect(sections[1]!.line).toBe(5);
  });

  it('skips comments: whole lines, indented, after values and in the middle of an unquoted word (as uci does)', () => {
    const sections = parseUci(
      lines(
        '# mwan3 config',
        "config interface 'wan' # the main line",
        '    # indented comment',
        "\toption a '1' # after a quoted value",
        '\toption b 2# right after an unquoted value',
        '\toption c foo#bar',
        '#\toption d 4',
        "\t#config interface 'commented'",
        '\tlist e x # a list',
      ),
      FILE,
    );
    expect(sections).toHaveLength(1);
    expect(sections[0]!.options).toEqual({ a: '1', b: '2', c: 'foo' });
    expect(sections[0]!.lists).toEqual({ e: ['x'] });
  });

  it('a later option replaces an earlier one; lists keep every value in order, empty ones too', () => {
    expect(body("\toption proto 'dhcp'", "\toption proto 'static'", '\tlist l b', '\tlist l a', "\tlist l ''", '\tlist l b')).toEqual({
      options: { proto: 'static' },
      lists: { l: ['b', 'a', '', 'b'] },
    });
  });

  it('an empty option value sets nothing, as uci skips it, and so keeps an earlier value', () => {
    expect(body("\toption gone ''", "\toption kept 'x'", '\toption kept ""')).toEqual({ options: { kept: 'x' }, lists: {} });
  });

  it('a list after an option of the same name turns the option into its first item; an option after a list replaces it', () => {
    expect(body('\toption a one', '\tlist a two', '\tlist b x', '\tlist b y', '\toption b z')).toEqual({
      options: { b: 'z' },
      lists: { a: ['one', 'two'] },
    });
  });

  it('a named section declared again with the same type is the same section, as in uci', () => {
    const sections = parseUci(
      lines("config interface 'wan'", '\toption a 1', "config interface 'wanb'", "config interface 'wan'", '\toption b 2', '\toption a 3'),
      FILE,
    );
    expect(sections.map((s) => [s.name, s.index, s.line])).toEqual([
      ['wan', 0, 1],
      ['wanb', 1, 3],
    ]);
    expect(sections[0]!.options).toEqual({ a: '3', b: '2' });
  });

  it('ignores `package mwan3` (the file name is the package)', () => {
    const sections = parseUci(lines('package mwan3', '', "config globals 'globals'", "\toption logging '1'", "package 'other-pkg'"), FILE);
    expect(sections).toEqual([{ type: 'globals', name: 'globals', index: 0, options: { logging: '1' }, lists: {}, line: 3 }]);
  });

  it('splits commands at ; and takes the one-letter keywords, as uci does', () => {
    const sections = parseUci(lines("config t 'a'; option x 1 ; list y 2", "c t 'b'", '\to x 3', '\tl y 4'), FILE);
    expect(sections.map((s) => [s.name, s.line, s.options, s.lists])).toEqual([
      ['a', 1, { x: '1' }, { y: ['2'] }],
      ['b', 2, { x: '3' }, { y: ['4'] }],
    ]);
  });

  it('accepts an empty file, blank lines and whitespace only', () => {
    expect(parseUci('', FILE)).toEqual([]);
    expect(parseUci('\n\n  \t\n# only a comment', FILE)).toEqual([]);
  });

  it('treats option names that are Object.prototype members as ordinary names', () => {
    const { options, lists } = body('\toption constructor x', '\toption __proto__ y', '\tlist toString z');
    expect(Object.entries(options)).toEqual([
      ['constructor', 'x'],
      ['__proto__', 'y'],
    ]);
    expect(Object.entries(lists)).toEqual([['toString', ['z']]]);
  });
});

describe('parseUci errors', () => {
  it.each<[string, string, string]>([
    ['an option before any config line', lines('# header', '', "option proto 'dhcp'"), '3: expected a "config" line before the first "option"'],
    ['a list before any config line', lines('package mwan3', "list track_ip '8.8.8.8'", 'config t'), '2: expected a "config" line before the first "list"'],
    ['an option without a name', lines('config t', '', '\toption', "\toption a 'b'"), '3: expected an option name after "option"'],
    ['a list without a name (only a comment)', lines('config t', '\tlist # track_ip'), '2: expected an option name after "list"'],
    ['an option without a value', lines("config interface 'wan'", "\toption enabled '1'", '\toption proto'), '3: expected a value after "option proto"'],
    ['a list without a value, its value commented out', lines('config t', "\tlist track_ip #'8.8.8.8'"), '2: expected a value after "list track_ip"'],
    ['an option name with a dash', lines('config t', "\toption dest-ip '192.0.2.1'"), '2: invalid option name "dest-ip": expected letters, digits and _ only'],
    ['a quoted option name with a dot', lines('config t', "\tlist 'a.b' x"), '2: invalid option name "a.b": expected letters, digits and _ only'],
    ['a section name with a dash', lines('config t', "config interface 'my-wan'"), '2: invalid section name "my-wan": expected letters, digits and _ only'],
    ['a config line without a type', lines('', 'config  # nothing'), '2: expected a section type after "config"'],
    ['a section type with a space', lines("config 'a b' 'c'"), '1: invalid section type "a b": expected printable ASCII characters and no spaces'],
    ['an empty section type', lines("config '' c"), '1: invalid section type "": expected printable ASCII characters and no spaces'],
    [
      'a second value (unquoted spaces)',
      lines('config rule', '\toption dest_ip 192.0.2.0/24 198.51.100.0/24'),
      '2: expected the end of the "option" line after the value, found "198.51.100.0/24" (quote a value that contains spaces)',
    ],
    ['a word after the section name', lines("config interface 'wan' extra"), '1: expected the end of the "config" line, found "extra"'],
    ['an unknown command', lines('config t', "\topt proto 'dhcp'"), '2: expected "config", "option", "list" or "package", found "opt"'],
    [
      'a quoted keyword (uci reads keywords as they are written)',
      lines('config t', "\t'option' a b"),
      `2: expected "config", "option", "list" or "package", found "'option'"`,
    ],
    ['a package line without a name', lines('package'), '1: expected a package name after "package"'],
    ['a package name with a dot', lines('package mwan3.conf'), '1: invalid package name "mwan3.conf": expected letters, digits, _ and - only'],
    ['a package line with two names', lines('package a b'), '1: expected the end of the "package" line, found "b"'],
    [
      'a named section declared again with another type',
      lines("config interface 'wan'", '', "config member 'wan'"),
      '3: section "wan" was declared with type "interface" on line 1: expected the same type, found "member"',
    ],
    [
      'a continuation before indentation (uci ends the value there)',
      lines('config t', '\toption a \\', '\t\tb'),
      '3: expected the end of the "option" line after the value, found "b" (quote a value that contains spaces)',
    ],
    [
      'an error after a multi-line value, on its own line',
      lines('config t', "\toption a 'x", "y'", '', '\toption'),
      '5: expected an option name after "option"',
    ],
    [
      'an error after a continued line, on its own line',
      lines('config t', '\toption a x\\', 'y', '\tbogus'),
      '4: expected "config", "option", "list" or "package", found "bogus"',
    ],
  ])('%s', (_what, text, message) => {
    const err = syntaxError(text);
    expect(err.code).toBe('CONFIG_SYNTAX');
    expect(err.exitStatus).toBe(78);
    expect(err.message).toBe(`${FILE}:${message}`);
  });

  it.each<[string, string, string]>([
    [
      'single quote',
      lines("config interface 'wan'", "\toption proto 'dhcp'", "\toption ifname 'eth1", '\toption metric 10', ''),
      `${FILE}:3: unterminated '...' string: expected a closing ' before the end of the file`,
    ],
    [
      'double quote',
      lines('config t', '', '\tlist x "a\\"', 'b', 'c'),
      `${FILE}:3: unterminated "..." string: expected a closing " before the end of the file`,
    ],
    [
      'double quote ended by a backslash at the end of the file',
      'config t\n\toption x "abc\\',
      `${FILE}:2: unterminated "..." string: expected a closing " before the end of the file`,
    ],
    [
      'quote opened in a value that started on an earlier line',
      lines('config t', '\toption x a\\', "b'c", 'd'),
      `${FILE}:3: unterminated '...' string: expected a closing ' before the end of the file`,
    ],
  ])('an unterminated %s names the line where it opened', (_what, text, message) => {
    expect(syntaxError(text).message).toBe(message);
  });
});
