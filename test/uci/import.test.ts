// mwan3 fixtures -> nft-mwan configs: each checked against its golden config and notes (UPDATE_GOLDEN=1 rewrites).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/validate.js';
import { importMwan3 } from '../../src/uci/import.js';
import { parseUci } from '../../src/uci/parse.js';

const root = new URL('./fixtures/', import.meta.url).pathname;
const update = process.env.UPDATE_GOLDEN === '1';
const network = parseUci(readFileSync(join(root, 'network-lab'), 'utf8'), 'network-lab');

describe('import-uci golden fixtures', () => {
  const cases = readdirSync(root).filter((f) => existsSync(join(root, f, 'mwan3'))).sort();
  it('has the shipped example and at least five variants', () => expect(cases.length).toBeGreaterThanOrEqual(6));

  it.each(cases)('%s', (name) => {
    const dir = join(root, name);
    const { config, notes } = importMwan3(parseUci(readFileSync(join(dir, 'mwan3'), 'utf8'), `${name}/mwan3`), { network });
    const v = validateConfig(config);
    expect(v.ok ? [] : v.issues).toEqual([]);
    const outputs: Record<string, string> = { 'config.json': `${JSON.stringify(config, null, 2)}\n`, 'notes.txt': `${notes.join('\n')}\n` };
    for (const [file, text] of Object.entries(outputs)) {
      if (update) writeFileSync(join(dir, file), text);
      expect(text).toBe(readFileSync(join(dir, file), 'utf8'));
    }
  });

  it('names the interfaces that have no device, and --device fills them in', () => {
    const sections = parseUci("config interface 'wan'\n\toption enabled '1'\n", 'x');
    expect(() => importMwan3(sections)).toThrow(/no device known for interface wan: give --network \/etc\/config\/network or --device wan=DEVICE/);
    expect(importMwan3(sections, { devices: { wan: 'eth1' } }).config.interfaces.wan).toMatchObject({ device: 'eth1', gateway: 'auto' });
  });

  it('maps netifd protocols to their devices (pppoe-NAME) and @aliases', () => {
    const net = parseUci("config interface 'dsl'\n\toption proto 'pppoe'\n\toption device 'eth0.7'\nconfig interface 'dsl6'\n\toption device '@dsl'\n", 'network');
    const { config } = importMwan3(parseUci("config interface 'dsl'\n\toption enabled '1'\nconfig interface 'dsl6'\n\toption enabled '1'\n\toption family 'ipv6'\n", 'm'), { network: net });
    expect(config.interfaces.dsl).toMatchObject({ device: 'pppoe-dsl', family: 'both', gateway6: 'auto' });
    expect(config.interfaces.dsl6).toBeUndefined();
  });
});

describe('import-uci notes', () => {
  it('notes unknown options and section types instead of dropping them silently', () => {
    const { notes } = importMwan3(
      parseUci("config interface 'wan'\n\toption enabled '1'\n\toption bogus 'x'\nconfig thing 't'\nconfig rule 'r'\n\toption use_policy 'default'\n\tlist weird 'y'\n", 'm'),
      { devices: { wan: 'eth1' } },
    );
    expect(notes).toContain('interface wan.bogus: not an mwan3 2.12 option: ignored');
    expect(notes).toContain('thing t: section type "thing" is not mwan3\'s: ignored');
    expect(notes).toContain('rule r.weird: not an mwan3 2.12 option: ignored');
  });
});
