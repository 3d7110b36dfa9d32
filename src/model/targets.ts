// Probe targets as the config writes them, parsed once per method: shared by validation and the probes.
import { parseIpv4, parseIpv6, type IpFamilyName } from './net.js';

export type Method = 'ping' | 'tcp' | 'http' | 'dns';

/** `family`: the target's address family (an IPv6 target is probed from the WAN's IPv6 address). */
export type Target =
  | { method: 'ping' | 'dns'; text: string; host: string; port: number; family: IpFamilyName }
  | { method: 'tcp'; text: string; host: string; port: number; family: IpFamilyName }
  | { method: 'http'; text: string; host: string; port: number; url: URL; family: IpFamilyName };

/** The family of an address literal, or undefined when it is none. */
export function addressFamily(text: string): IpFamilyName | undefined {
  if (parseIpv4(text) !== undefined) return 'ipv4';
  if (parseIpv6(text) !== undefined) return 'ipv6';
  return undefined;
}

/** Parses one target for a method, or says what a valid one looks like. */
export function parseTarget(method: Method, text: string): Target | { error: string } {
  switch (method) {
    case 'ping':
    case 'dns': {
      const family = addressFamily(text);
      if (family === undefined) return { error: `"${text}" is not an IPv4 or IPv6 address (${method} targets are addresses)` };
      return { method, text, host: text, port: method === 'dns' ? 53 : 0, family };
    }
    case 'tcp': {
      // IPv6 in brackets, as URLs write it: [2001:db8::53]:443.
      const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
      const host = m ? ((m[1] ?? m[2]) as string) : '';
      const family = m
        ? m[1] !== undefined
          ? parseIpv6(host) !== undefined
            ? 'ipv6'
            : undefined
          : parseIpv4(host) !== undefined
            ? 'ipv4'
            : undefined
        : undefined;
      const port = m ? Number(m[3]) : NaN;
      if (!m || family === undefined || port < 1 || port > 65535) {
        return { error: `"${text}" is not address:port (tcp targets look like "192.0.2.53:443" or "[2001:db8::53]:443")` };
      }
      return { method, text, host, port, family };
    }
    case 'http': {
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        return { error: `"${text}" is not a URL (http targets look like "http://192.0.2.80/health" or "http://[2001:db8::80]/health")` };
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return { error: `"${text}" must start with http:// or https://` };
      // Names would need DNS through the WAN under test; an address keeps the probe about the path only.
      const bracketed = /^\[(.+)\]$/.exec(url.hostname);
      const host = bracketed ? (bracketed[1] as string) : url.hostname;
      const family = bracketed ? (parseIpv6(host) !== undefined ? 'ipv6' : undefined) : parseIpv4(host) !== undefined ? 'ipv4' : undefined;
      if (family === undefined) return { error: `"${text}": the host must be an IPv4 address or an IPv6 one in brackets, not a name` };
      const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
      if (port < 1) return { error: `"${text}": port ${port} is not a port to connect to` };
      return { method, text, host, port, url, family };
    }
  }
}
