// The built command line, run as a user would: usage mistakes, root and what works without it. Nothing here reaches
// the kernel: every case is refused (or served from the config alone) before nft or ip would run.
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/model/errors.js';

const BIN = fileURLToPath(new URL('../../bin/nft-mwan', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('../../examples/config.json', import.meta.url));
// A config path that does not exist: should a refusal not happen, the command stops at the config (78), not later.
const NO_CONFIG = '/nonexistent/nft-mwan-test.json';

const bin = (args: string[], options: { uid?: number } = {}) =>
  options.uid === undefined
    ? execa(BIN, args, { reject: false, timeout: 20_000 })
    : execa('setpriv', ['--reuid', String(options.uid), '--regid', String(options.uid), '--clear-groups', BIN, ...args], { reject: false, timeout: 20_000 });

describe('nft-mwan usage', () => {
  it('use --help shows --config before the `--` that starts the command', async () => {
    const r = await bin(['use', '--help']);
    expect(r.exitCode).toBe(EXIT.ok);
    const line = r.stdout.split('\n')[0] ?? '';
    expect(line).toMatch(/--config FILE/);
    expect(line.indexOf('--config')).toBeLessThan(line.indexOf(' -- '));
  });

  it('an unknown option is one USAGE message naming it and the options the command takes', async () => {
    const r = await bin(['status', '--bogus', '--config', NO_CONFIG]);
    expect(r.exitCode).toBe(EXIT.usage);
    expect(r.stderr).toMatch(/^nft-mwan: error: status: unknown option --bogus\n/);
    expect(r.stderr).toMatch(/status's options: --json; --watch VALUE; --state-dir VALUE/);
    expect(r.stderr).not.toMatch(/positional argument|ERR_PARSE_ARGS/);
  });

  it.each([
    ['a word', 'abc'],
    ['an exponent', '1e9'],
    ['a fraction', '2.5'],
    ['zero', '0'],
    ['more than an hour', '3601'],
  ])('apply --try with %s (%s) is refused as bad usage, not taken as 120 s', async (_what, value) => {
    const r = await bin(['apply', '--config', NO_CONFIG, '--try', value]);
    expect(r.exitCode).toBe(EXIT.usage);
    expect(r.stderr).toContain(`--try ${value}: give whole seconds from 1 to 3600`);
  });

  it('a stray argument is refused (it was how `--try abc` slipped through)', async () => {
    const r = await bin(['status', 'extra', '--config', NO_CONFIG]);
    expect(r.exitCode).toBe(EXIT.usage);
    expect(r.stderr).toMatch(/status: unexpected argument "extra"/);
  });
});

describe('nft-mwan without root', () => {
  const NOBODY = 65534;

  it.each(['status', 'apply', 'explain', 'stop', 'interfaces'])('%s says it needs root and why, before nft is asked anything', async (command) => {
    const r = await bin([command, '--config', EXAMPLE], { uid: NOBODY });
    expect(r.exitCode).toBe(EXIT.noPermission);
    expect(r.stderr).toMatch(new RegExp(`^nft-mwan: error: ${command} needs root: it \\w+ .*Without root: rules, import-uci`));
    expect(r.stderr).not.toMatch(/Operation not permitted|nft: |exited with|internal error/);
  });

  it('rules, a static view of the config, works without root', async () => {
    const r = await bin(['rules', '--config', EXAMPLE], { uid: NOBODY });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(EXIT.ok);
    expect(r.stdout).toMatch(/^Active user rules \(first match wins\):\n .+ -> /);
  });

  it('--help of a command says whether it needs root', async () => {
    const r = await bin(['apply', '--help'], { uid: NOBODY });
    expect(r.exitCode).toBe(EXIT.ok);
    expect(r.stdout).toMatch(/needs root: it changes nftables, ip rules and routes/);
  });
});
