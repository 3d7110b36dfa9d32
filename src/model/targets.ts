// Probe targets as the config writes them, parsed once per method: shared by validation and the probes.
import { parseIpv4 } from './net.js';

export type Method = 'ping' | 'tcp' | 'http' | 'dns';

export type Target =
  | { method: 'ping' | 'dns'; text: string; host: string; port: number }
  | { method: 'tcp'; text: string; host: string; port: number }
  | { method: 'http'; text: string; host: string; port: number; url: URL };

/** Parses one target for a method, or says what a valid one looks like. */
export function parseTarget(method: Method, text: string): Target | { error: string } {
  switch (method) {
    case 'ping':
    case 'dns':
      if (parseIpv4(text) === undefined) return { error: `"${text}" is not an IPv4 address (${method} targets are addresses)` };
      return { method, text, host: text, port: method === 'dns' ? 53 : 0 };
    case 'tcp': {
      const m = /^(.+):(\d{1,5})$/.exec(text);
      const port = m ? Number(m[2]) : NaN;
      if (!m || parseIpv4(m[1] as string) === undefined || port < 1 || port > 65535) {
        return { error: `"${text}" is not address:port (tcp targets look like "192.0.2.53:443")` };
      }
      return { method, text, host: m[1] as string, port };
    }
    case 'http': {
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        return { error: `"${text}" is not a URL (http targets look like "http://192.0.2.80/health")` };
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return { error: `"${text}" must start with http:// or https://` };
      // Names would need DNS through the WAN under test; an address keeps the probe about the path only.
      if (parseIpv4(url.hostname) === undefined) return { error: `"${text}": the host must be an IPv4 address, not a name` };
      const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
      if (port < 1) return { error: `"${text}": port ${port} is not a port to connect to` };
      return { method, text, host: url.hostname, port, url };
    }
  }
}
