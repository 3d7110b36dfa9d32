// Probe targets as the config writes them, parsed once per method: shared by validation, compile and the probes.
import { parseIpv4, parseIpv6, type IpFamilyName } from './net.js';

export type Method = 'ping' | 'tcp' | 'http' | 'dns';

/**
 * `name`: the host is a DNS host name, resolved by the daemon at every round (an address is probed as it is).
 * `family`: an address's family (an IPv6 target is probed from the WAN's IPv6 address); null for a name, which is
 * resolved in the family its tracking probes (`track` IPv4, `track6` IPv6, an IPv6-only WAN's `track` IPv6).
 */
export type Target =
  | { method: 'ping' | 'dns'; text: string; host: string; port: number; name: boolean; family: IpFamilyName | null }
  | { method: 'tcp'; text: string; host: string; port: number; name: boolean; family: IpFamilyName | null }
  | { method: 'http'; text: string; host: string; port: number; name: boolean; family: IpFamilyName | null; url: URL };

/**
 * A DNS host name (RFC 1123): dot-separated labels of letters, digits and inner hyphens, 1 to 63 characters
 * each, 253 in all, an optional final dot. The last label is not all digits, so a mistyped address
 * ("256.0.0.1", "192.0.2") is refused as an address, never looked up as a name.
 */
export function isHostName(text: string): boolean {
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  if (!labels.every((l) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l))) return false;
  return !/^\d+$/.test(labels[labels.length - 1] as string);
}

/** The family of an address literal, or undefined when it is none. */
export function addressFamily(text: string): IpFamilyName | undefined {
  if (parseIpv4(text) !== undefined) return 'ipv4';
  if (parseIpv6(text) !== undefined) return 'ipv6';
  return undefined;
}

type Host = { host: string; name: boolean; family: IpFamilyName | null };

/** An address (IPv6 only where `v6` allows it: bare, or in brackets), or a host name the daemon resolves. */
function host(text: string, v6: 'bare' | 'bracketed'): Host | undefined {
  if (parseIpv4(text) !== undefined) return { host: text, name: false, family: 'ipv4' };
  const inner = v6 === 'bracketed' ? /^\[(.+)\]$/.exec(text)?.[1] : text;
  if (inner !== undefined && parseIpv6(inner) !== undefined) return { host: inner, name: false, family: 'ipv6' };
  return isHostName(text) ? { host: text, name: true, family: null } : undefined;
}

/** Parses one target for a method, or says what a valid one looks like. */
export function parseTarget(method: Method, text: string): Target | { error: string } {
  switch (method) {
    case 'ping':
    case 'dns': {
      const h = host(text, 'bare');
      if (h === undefined) {
        return {
          error: `"${text}" is not an IPv4 or IPv6 address or a host name (${method} targets look like "192.0.2.53", "2001:db8::53" or "dns.example.net")`,
        };
      }
      return { method, text, ...h, port: method === 'dns' ? 53 : 0 };
    }
    case 'tcp': {
      // IPv6 in brackets, as URLs write it: [2001:db8::53]:443.
      const m = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(text);
      const port = m ? Number(m[2]) : NaN;
      const h = m ? host(m[1] as string, 'bracketed') : undefined;
      if (h === undefined || port < 1 || port > 65535) {
        return {
          error: `"${text}" is not address:port or name:port (tcp targets look like "192.0.2.53:443", "[2001:db8::53]:443" or "www.example.net:443")`,
        };
      }
      return { method, text, ...h, port };
    }
    case 'http': {
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        return {
          error: `"${text}" is not a URL (http targets look like "http://192.0.2.80/health", "http://[2001:db8::80]/health" or "https://www.example.net/")`,
        };
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return { error: `"${text}" must start with http:// or https://` };
      // The URL parser lower-cases names, brackets IPv6 and reads odd address forms as addresses already.
      const h = host(url.hostname, 'bracketed');
      if (h === undefined) return { error: `"${text}": the host must be an IPv4 address, an IPv6 one in brackets or a host name` };
      const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
      if (port < 1) return { error: `"${text}": port ${port} is not a port to connect to` };
      return { method, text, ...h, port, url };
    }
  }
}
