// The one catch of the command line: what a command throws becomes the exit status its error code maps to.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { EXIT, MwanError, type ErrorCode } from '../../src/model/errors.js';

// `check` stands in for any command: it throws what the test gives it, or returns a status.
const outcome = vi.hoisted(() => ({ value: undefined as unknown }));
vi.mock('../../src/cli/check.js', () => ({
  default: async () => {
    if (typeof outcome.value === 'number') return outcome.value;
    throw outcome.value;
  },
}));

const { runCli } = await import('../../src/cli/main.js');

async function exit(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const status = await runCli(
    argv,
    (t) => {
      stdout += t;
    },
    (t) => {
      stderr += t;
    },
  );
  return { status, stdout, stderr };
}

describe('runCli', () => {
  beforeEach(() => {
    outcome.value = undefined;
  });

  it.each<[ErrorCode, number]>([
    ['USAGE', EXIT.usage],
    ['CONFIG_READ', EXIT.config],
    ['CONFIG_INVALID', EXIT.config],
    ['COMMAND_FAILED', EXIT.failure],
    ['TRY_ROLLED_BACK', EXIT.failure],
  ])('exits a command that throws %s with status %i and says why on stderr', async (code, status) => {
    outcome.value = new MwanError({ code, summary: `the ${code} summary` });
    const r = await exit(['check']);
    expect(r.status).toBe(status);
    expect(r.stderr).toBe(`nft-mwan: error: ${(outcome.value as MwanError).message}\n`);
    expect(r.stderr).toContain(`the ${code} summary`);
    expect(r.stdout).toBe('');
  });

  it('exits 1 and calls anything but an MwanError a bug, with its stack', async () => {
    outcome.value = new TypeError('x is undefined');
    const r = await exit(['check']);
    expect(r.status).toBe(EXIT.failure);
    expect(r.stderr).toMatch(/^nft-mwan: internal error \(a bug, please report\): TypeError: x is undefined\n\s+at /);
  });

  it.each([
    ['EACCES', 'open', '/run/nft-mwan/state.json', 'permission denied'],
    ['ENOTDIR', 'mkdir', '/tmp/a-file/state', 'a part of the path is not a directory'],
    ['EROFS', 'open', '/run/nft-mwan/applied-config', 'read-only file system'],
  ])('calls a file the system refuses (%s) an error of the environment, with the call and the path, not a bug', async (code, syscall, path, why) => {
    outcome.value = Object.assign(new Error(`${code}: ${why}, ${syscall} '${path}'`), { code, syscall, path, errno: -1 });
    const r = await exit(['check']);
    expect(r.status).toBe(EXIT.failure);
    expect(r.stderr).toMatch(new RegExp(`^nft-mwan: error: ${syscall} ${path}: ${why}( \\(run as root\\))?\n$`));
  });

  it('exits with the status the command returns, and writes nothing on stderr', async () => {
    outcome.value = 3;
    expect(await exit(['check'])).toEqual({ status: 3, stdout: '', stderr: '' });
  });

  it('maps the errors of the dispatcher itself too: an unknown command is bad usage', async () => {
    const r = await exit(['no-such-command']);
    expect(r.status).toBe(EXIT.usage);
    expect(r.stderr).toMatch(/^nft-mwan: error: .*unknown command "no-such-command"/);
  });

  it('maps an unknown option to bad usage, with the usage of the command', async () => {
    const r = await exit(['check', '--no-such-option']);
    expect(r.status).toBe(EXIT.usage);
    expect(r.stderr).toContain('usage: nft-mwan check');
  });
});
