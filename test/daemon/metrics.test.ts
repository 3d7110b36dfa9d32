// The metrics outlets: the textfile written at start and every interval with what render gives, none after stop.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsOutlets } from '../../src/daemon/metrics.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nft-mwan-metrics-outlets-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('MetricsOutlets', () => {
  it('writes the textfile at once and again every interval; stopped, no more', async () => {
    let renders = 0;
    const path = join(dir, 'nft_mwan.prom');
    const m = new MetricsOutlets(async () => `nft_mwan_renders ${++renders}\n`, { info: () => undefined, warn: () => undefined });
    await m.start({ listen: undefined, textfile: path, interval: 0.05 });
    // Written at once (the first render, asynchronously): polled with a deadline.
    for (const deadline = Date.now() + 5_000; !existsSync(path) && Date.now() < deadline;) await sleep(5);
    expect(readFileSync(path, 'utf8')).toMatch(/^nft_mwan_renders \d+\n$/);
    // Again every interval: polled with a deadline (a loaded machine runs a 50 ms timer late, not never).
    for (const deadline = Date.now() + 5_000; renders < 2 && Date.now() < deadline;) await sleep(10);
    await sleep(20);
    expect(renders).toBeGreaterThanOrEqual(2);
    expect(readFileSync(path, 'utf8')).toBe(`nft_mwan_renders ${renders}\n`);
    m.stop();
    const after = renders;
    await sleep(120);
    expect(renders).toBe(after);
  });

  it('a render that fails is a warning naming the file', async () => {
    const warnings: string[] = [];
    const path = join(dir, 'x.prom');
    const m = new MetricsOutlets(async () => Promise.reject(new Error('conntrack gone')), { info: () => undefined, warn: (w) => warnings.push(w) });
    await m.start({ listen: undefined, textfile: path, interval: 60 });
    await sleep(20);
    m.stop();
    expect(warnings).toEqual([`metrics textfile ${path}: conntrack gone`]);
  });
});
