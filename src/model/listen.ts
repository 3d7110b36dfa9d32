// The metrics listen address, "127.0.0.1:9523" or "[::1]:9523": a loopback address literal and a port, or why not. Pure.
import { BlockList, isIPv4, isIPv6 } from 'node:net';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

export function checkListen(listen: string): { host: string; port: number } | { error: string } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(listen) ?? /^([^:[\]]+):(\d+)$/.exec(listen);
  const [, host, portText] = m ?? [];
  if (host === undefined || portText === undefined) return { error: 'expected host:port, e.g. 127.0.0.1:9523 or [::1]:9523' };
  const port = Number(portText);
  if (!Number.isInteger(port) || port > 65535) return { error: `port ${portText} is not between 0 and 65535` };
  const family = isIPv4(host) ? 'ipv4' : isIPv6(host) ? 'ipv6' : null;
  // Names are refused too: what "localhost" resolves to is up to /etc/hosts, and the metrics must stay on this host.
  if (!family) return { error: `"${host}" is not an IP address; use 127.0.0.1 or [::1]` };
  if (!LOOPBACK.check(host, family)) return { error: `"${host}" is not a loopback address; metrics are served on 127.0.0.0/8 or ::1 only` };
  return { host, port };
}
