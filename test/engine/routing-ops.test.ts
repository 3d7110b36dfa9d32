// ip's refusal of a routing change names the interface it concerns, its JSON path and the lines sent; -v logs them.
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { applyRouting } from '../../src/engine/routing-ops.js';
import { EMPTY_FACTS } from '../../src/model/facts.js';
import type { Logger } from '../../src/model/logger.js';
import type { Runner } from '../../src/system/runner.js';
import { resolved } from '../compile/fixtures.js';

const config = resolved({
  interfaces: { wan1: { device: 'eth1', gateway: '192.0.2.1' }, wan9: { device: 'eth9', gateway: '198.51.100.1' } },
  policies: { p: { members: [{ interface: 'wan1' }, { interface: 'wan9' }] } },
});

function recorder(): { log: Logger; debug: string[] } {
  const debug: string[] = [];
  const none = () => undefined;
  return { log: { debug: (m) => debug.push(m), info: none, warn: none, error: none }, debug };
}

describe('applyRouting', () => {
  const p = compile(config, EMPTY_FACTS);
  const wan9 = p.interfaces.find((i) => i.name === 'wan9');
  const routeOf = p.routing.routes.filter((r) => r.table === wan9?.table);

  it('maps ip refusing a route back to the interface and its JSON path, with the line it sent', async () => {
    const run: Runner = () => Promise.resolve({ stdout: '', stderr: 'Cannot find device "eth9"\nCommand failed -:1\n', exitCode: 2 });
    const { log } = recorder();
    const failure = applyRouting(
      run,
      routeOf.map((route) => ({ op: 'replace-route' as const, route })),
      p,
      log,
    );
    await expect(failure).rejects.toMatchObject({
      code: 'COMMAND_FAILED',
      issues: [{ path: '/interfaces/wan9', message: expect.stringMatching(/^route replace default via 198\.51\.100\.1 dev eth9 table \d+/) }],
      message: expect.stringMatching(/for interface wan9 \(IPv4\)[\s\S]*\/interfaces\/wan9: route replace[\s\S]*Cannot find device "eth9"/),
    });
  });

  it('logs every line sent to ip at debug level (shown with -v)', async () => {
    const sent: string[] = [];
    const run: Runner = (_file, _args, o) => {
      sent.push(o?.input ?? '');
      return Promise.resolve({ stdout: '', stderr: '', exitCode: 0 });
    };
    const { log, debug } = recorder();
    const ops = p.routing.rules.map((rule) => ({ op: 'add-rule' as const, rule }));
    await applyRouting(run, ops, p, log);
    expect(debug).toHaveLength(ops.length);
    expect(sent.join('').trim().split('\n')).toEqual(debug.map((d) => d.replace(/^ip -4 -batch: /, '')));
  });
});
