// Which nft this run tests against: printed in every run, and held to the version a run promises (NFT_MWAN_EXPECT_NFT:
// CI's second pass with Debian 13's nft 1.1.x), through PATH and inside a namespace, where nft-mwan runs it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../lab/netns.js';
import { EXPECT_NFT_ENV, nftVersion, nftVersionMatches, parseNftVersion } from '../../lab/prereqs.js';
import { describeLab } from '../../lab/vitest.js';

describe('nft versions', () => {
  it.each([
    ['nftables v1.0.6 (Lester Gooch #5)', '1.0.6'],
    ['nftables v1.1.3 (Commodore Bullmoose #4)', '1.1.3'],
    ['nft: command not found', undefined],
  ])('reads %j as %s', (banner, version) => {
    expect(parseNftVersion(banner)).toBe(version);
  });
  it.each([
    ['1.1.3', '1.1', true],
    ['1.1.3', '1.1.', true],
    ['1.1.3', '1.1.3', true],
    ['1.0.6', '1.1', false],
    ['1.10.0', '1.1', false],
    [undefined, '1.1', false],
  ])('counts %s as nft %s: %s', (version, expected, matches) => {
    expect(nftVersionMatches(version, expected)).toBe(matches);
  });
});

const found = nftVersion();
const expected = process.env[EXPECT_NFT_ENV];

describeLab(`nft on PATH: ${found ? `${found.banner} (${found.path})` : 'none'}`, () => {
  const lab = new Lab();

  beforeAll(async () => {
    await lab.addNamespace('nft');
    console.log(`nft under test: ${found?.banner} at ${found?.path}${expected ? `; this run promises ${expected}` : ''}`);
  });
  afterAll(async () => {
    await lab.teardown();
  });

  it(`is ${expected ? `nft ${expected}, as ${EXPECT_NFT_ENV} promises` : 'a version nft names'}`, () => {
    expect(found?.version, found?.banner).toMatch(/^\d+\.\d+/);
    if (expected) expect(nftVersionMatches(found?.version, expected), `${found?.banner} at ${found?.path}`).toBe(true);
  });

  it('is the same nft inside a namespace, where nft-mwan and the lab run it through ip netns exec', async () => {
    const r = await lab.exec('nft', 'nft', ['--version']);
    expect(parseNftVersion(r.stdout)).toBe(found?.version);
  });

  it('writes and lists a table with libnftables of that version (the JSON listing nft-mwan verifies names it)', async () => {
    await lab.nft('nft', 'table inet probe {\n  chain c {\n    type filter hook output priority 0; policy accept;\n    counter\n  }\n}\n');
    const r = await lab.exec('nft', 'nft', ['-j', 'list', 'table', 'inet', 'probe']);
    const listing = JSON.parse(r.stdout) as { nftables: { metainfo?: { version?: string } }[] };
    const meta = listing.nftables.find((o) => o.metainfo)?.metainfo;
    expect(meta?.version).toBe(found?.version);
  });
});
