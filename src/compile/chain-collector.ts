// The chains of one plan and their rules, collected in a stable order (base chains first, then by first use).
import { TABLE_FAMILY as FAMILY } from '../model/names.js';
import type { NftCommand } from '../model/plan.js';
import * as x from './nft-expr.js';

/** One rule a stage wants in a chain; stages return lists of these and the collector keeps their order. */
export interface ChainRule {
  chain: string;
  expr: x.Stmt[];
  comment?: string | undefined;
}

export class Chains {
  private readonly order: string[] = [];
  private readonly specs = new Map<string, x.ChainSpec>();
  private readonly rules = new Map<string, { expr: x.Stmt[]; comment?: string | undefined }[]>();

  constructor(private readonly table: string) {}

  base(name: string, base: NonNullable<x.ChainSpec['base']>): void {
    this.ensure(name);
    this.specs.set(name, { name, base });
  }

  rule(chain: string, expr: x.Stmt[], comment?: string): void {
    this.ensure(chain);
    this.rules.get(chain)?.push({ expr, comment });
  }

  /** A stage's rules, in the stage's order. */
  add(rules: readonly ChainRule[]): void {
    for (const r of rules) this.rule(r.chain, r.expr, r.comment);
  }

  names(): string[] {
    return [...this.order];
  }

  chainCommands(): NftCommand[] {
    return this.order.map((name) => x.addChain(FAMILY, this.table, this.specs.get(name) ?? { name }));
  }

  ruleCommands(): NftCommand[] {
    return this.order.flatMap((chain) => (this.rules.get(chain) ?? []).map((r) => x.addRule(FAMILY, this.table, chain, r.expr, r.comment)));
  }

  private ensure(name: string): void {
    if (!this.specs.has(name)) {
      this.order.push(name);
      this.specs.set(name, { name });
      this.rules.set(name, []);
    }
  }
}
