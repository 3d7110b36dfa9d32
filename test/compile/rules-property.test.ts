import { it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
it('explore', () => {
  const cfg: any = {
    interfaces: { wan1: { device: 'eth1' }, wan2: { device: 'eth2' } },
    policies: { A: { members: [{ interface: 'wan1' }] }, B: { members: [{ interface: 'wan2' }] } },
    rules: [
      { name: 'r1', destIp: ['10.0.0.0/30'], policy: 'A' },
      { name: 'r2', destIp: ['10.0.0.4-10.0.0.6', '10.0.1.1'], policy: 'B' },
      { name: 'r3', proto: 'tcp', srcIp: ['10.0.0.1'], destPort: [1, '3-5'], policy: 'unreachable' },
      { name: 'r4', proto: 'tcp', srcIp: ['10.0.0.2'], destPort: [1], policy: 'A' },
      { name: 'r5', proto: 'icmp', policy: 'A' },
      { name: 'r6', srcIface: ['lan0'], policy: 'B' },
      { name: 'r7', policy: 'B', log: true, destIp: ['1.2.3.4'] },
    ],
  };
  const plan = compile(cfg);
  for (const c of plan.nft.nftables as any[]) if (c.add?.rule?.chain === 'classify') console.log(JSON.stringify(c.add.rule));
});
