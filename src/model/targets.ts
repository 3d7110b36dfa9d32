// Probe targets as the config writes them, parsed once per method: shared by validation, compile and the probes.
import { parseIpv4 } from './net.js';

export type Method = 'ping' | 'tcp' | 'http' | 'dns';

/** `name`: the host is a DNS host name, resolved by the daemon at every round (an address is probed as it is). */
export type Target =
  | { method: 'ping' | 'dns'; text: string; host: string; port: number; name: boolean }
  | { method: 'tcp'; text: string; host: string; port: number; name: boolean }
  | { method: 'http'; text: string; host: string; port: number; name: boolean; url: URL };

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

/** An IPv4 address, or a host name the daemon resolves; undefined for anything else. */
function host(text: string): { host: string; name: boolean } | undefined {
  if (parseIpv4(text) !== undefined) return { host: text, name: false };
  return isHostName(text) ? { host: text, name: true } : undefined;
}

/** Parses one target for a method, or says what a valid one looks like. */
export function parseTarget(method: Method, text: string): Target | { error: string } {
  switch (method) {
    case 'ping':
    case 'dns': {
      const h = host(text);
      if (h === undefined) return { error: `"${text}" is not an IPv4 address or a host name (${method} targets look like "192.0.2.53" or "dns.example.net")` };
      return { method, text, ...h, port: method === 'dns' ? 53 : 0 };
    }
    case 'tcp': {
      const m = /^(.+):(\d{1,5})$/.exec(text);
      const port = m ? Number(m[2]) : NaN;
      const h = m ? host(m[1] as string) : undefined;
      if (h === undefined || port < 1 || port > 65535) {
        return { error: `"${text}" is not address:port or name:port (tcp targets look like "192.0.2.53:443" or "www.example.net:443")` };
      }
      return { method, text, ...h, port };
    }
    case 'http': {
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        return { error: `"${text}" is not a URL (http targets look like "http://192.0.2.80/health" or "https://www.example.net/")` };
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return { error: `"${text}" must start with http:// or https://` };
      // The URL parser lower-cases names and reads odd address forms as addresses already.
      const h = host(url.hostname);
      if (h === undefined) return { error: `"${text}": the host must be an IPv4 address or a host name` };
      const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
      if (port < 1) return { error: `"${text}": port ${port} is not a port to connect to` };
      return { method, text, ...h, port, url };
    }
  }
}
