// Two projects: fast pure unit tests, and namespace integration tests that run one file at a time; a third, nft-next,
// when NFT_MWAN_NFT_NEXT names the bin dir of scripts/nft-next.sh (CI's second pass over the nft-facing suites).
import { delimiter, join } from 'node:path';
import { defineConfig } from 'vitest/config';

const integration = {
  // Namespaces and traffic share two cores: one file at a time keeps timings sane.
  fileParallelism: false,
  testTimeout: 120_000,
  hookTimeout: 120_000,
};

/**
 * The suites that apply rulesets or read them back, run again with Debian 13's nft first in PATH (nft-mwan and the
 * lab both find nft through PATH). Each lab makes namespaces under a fresh random prefix and deletes them, and
 * `ip netns add` refuses a name that exists, so nothing of the system nft's run is listed by the newer one.
 * Nothing may run the system's nft by path in this pass: both versions in one namespace would mix (nft 1.0.6
 * segfaults listing a table 1.1.3 wrote).
 */
export const NFT_FACING = [
  'test/integration/nft-version.test.ts',
  'test/integration/core.test.ts',
  'test/integration/policy.test.ts',
  'test/integration/ipv6.test.ts',
  'test/integration/golden-apply.test.ts',
  'test/integration/import.test.ts',
  'test/integration/operator.test.ts',
  // libnftables in process: the newer library (NFT_MWAN_LIBNFTABLES below) in a node run on the newer libc.
  'test/integration/libnftables.test.ts',
  'test/integration/daemon.test.ts',
  'test/integration/daemon-robustness.test.ts',
  'test/integration/corpus-check.test.ts',
];

const nftNextBin = process.env.NFT_MWAN_NFT_NEXT;

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/integration/**', 'test/lab/**', 'test/**/*.integration.test.ts'],
          setupFiles: ['test/unit-setup.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/lab/**/*.test.ts', 'test/**/*.integration.test.ts'],
          ...integration,
        },
      },
      ...(nftNextBin
        ? [
            {
              test: {
                name: 'nft-next',
                include: NFT_FACING,
                ...integration,
                // Debian 13's nft: a run that finds another one fails in CI (lab/prereqs.ts) rather than pass untested.
                // nft-mwan (bin/nft-mwan, run by the node wrapper found first in PATH) loads Debian 13's libnftables.
                env: {
                  PATH: `${nftNextBin}${delimiter}${process.env.PATH ?? ''}`,
                  NFT_MWAN_EXPECT_NFT: '1.1',
                  NFT_MWAN_LIBNFTABLES: join(nftNextBin, 'libnftables.so.1'),
                },
              },
            },
          ]
        : []),
    ],
  },
});
