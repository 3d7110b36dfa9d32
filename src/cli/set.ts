// `nft-mwan set add|del|list NAME [ELEMENT...]`: the run-time content of a named set from the config.
import { configOrThrow, loadConfig } from '../config/load.js';
import { formatIpv6, parseIpElement, parseIpv4Element } from '../model/net.js';
import { addrElement, type Expr } from '../compile/nft-expr.js';
import { MwanError } from '../model/errors.js';
import { applyBatch, listSet } from '../system/nft.js';
import type { CommandContext } from './context.js';
import { elementText, expiresIn } from './elements.js';

export default async function setCommand(ctx: CommandContext): Promise<number> {
  const [verb, name, ...elements] = ctx.positionals;
  if (verb === undefined || !['add', 'del', 'list'].includes(verb) || name === undefined) {
    throw new MwanError({ code: 'USAGE', summary: 'usage: nft-mwan set add|del NAME ELEMENT... | set list NAME' });
  }
  const config = configOrThrow(await loadConfig(ctx.configPath));
  if (!(name in config.sets)) {
    throw new MwanError({ code: 'USAGE', summary: `no set "${name}" in ${ctx.configPath} (sets: ${Object.keys(config.sets).join(', ') || 'none'})` });
  }
  const table = config.globals.table;
  if (verb === 'list') {
    const set = await listSet(ctx.run, 'inet', table, name);
    for (const e of (set?.elem as unknown[] | undefined) ?? []) {
      const expires = expiresIn(e);
      ctx.out(`${elementText(e)}${expires === null ? '' : ` (expires in ${expires} s)`}`);
    }
    return 0;
  }
  if (elements.length === 0) throw new MwanError({ code: 'USAGE', summary: `set ${verb} ${name}: give at least one element` });
  const type = config.sets[name]?.type ?? 'ipv4_addr';
  const elem = elements.map((text) => elementOf(name, type, text));
  // One transaction for every element: all are added (or removed), or none.
  await applyBatch(ctx.run, { nftables: [{ [verb === 'add' ? 'add' : 'delete']: { element: { family: 'inet', table, name, elem } } }] });
  ctx.log.info(`${verb === 'add' ? 'added to' : 'removed from'} set ${name}: ${elements.join(' ')}`);
  return 0;
}

/**
 * One command-line element as an nft set element of the set's family, written as given (an address, a prefix
 * or a range), so that `del` names exactly what `add` added. An element of the other family is refused here:
 * nft would refuse the whole transaction with a less helpful message.
 */
function elementOf(name: string, type: string, text: string): Expr {
  const parsed = parseIpElement(text);
  if ('error' in parsed) throw new MwanError({ code: 'USAGE', summary: `set ${name}: ${parsed.error}` });
  const want = type === 'ipv6_addr' ? 'ipv6' : 'ipv4';
  const { family, first, last } = parsed.interval;
  if (family !== want) {
    throw new MwanError({
      code: 'USAGE',
      summary:
        `set ${name} holds ${type}: "${text}" is an ${family === 'ipv6' ? 'IPv6' : 'IPv4'} element ` +
        `(give ${want === 'ipv6' ? 'IPv6' : 'IPv4'} addresses, CIDRs or ranges)`,
    });
  }
  if (family === 'ipv4') {
    const v4 = parseIpv4Element(text);
    if ('error' in v4) throw new MwanError({ code: 'USAGE', summary: `set ${name}: ${v4.error}` });
    return addrElement(v4.element);
  }
  if (first === last) return formatIpv6(first);
  const slash = text.indexOf('/');
  if (slash >= 0) return { prefix: { addr: formatIpv6(first), len: Number(text.slice(slash + 1)) } };
  return { range: [formatIpv6(first), formatIpv6(last)] };
}
