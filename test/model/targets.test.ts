// Probe targets per method: what each method accepts (host and port filled in) and what it refuses, saying why.
import { describe, expect, it } from 'vitest';
import { parseTarget, type Method } from '../../src/model/targets.js';

describe('parseTarget', () => {
  it.each<[Method, string, { host: string; port: number }]>([
    ['ping', '192.0.2.1', { host: '192.0.2.1', port: 0 }],
    ['ping', '0.0.0.0', { host: '0.0.0.0', port: 0 }],
    ['dns', '192.0.2.53', { host: '192.0.2.53', port: 53 }],
    ['tcp', '192.0.2.53:443', { host: '192.0.2.53', port: 443 }],
    ['tcp', '192.0.2.53:1', { host: '192.0.2.53', port: 1 }],
    ['tcp', '192.0.2.53:65535', { host: '192.0.2.53', port: 65535 }],
    ['http', 'http://192.0.2.80/health', { host: '192.0.2.80', port: 80 }],
    ['http', 'https://192.0.2.80/', { host: '192.0.2.80', port: 443 }],
    ['http', 'http://192.0.2.80:8080/x?y=1', { host: '192.0.2.80', port: 8080 }],
    ['http', 'https://192.0.2.80:8443', { host: '192.0.2.80', port: 8443 }],
  ])('%s accepts %j', (method, text, want) => {
    const t = parseTarget(method, text);
    expect(t).toMatchObject({ method, text, ...want });
  });

  it.each<[Method, string, { host: string; port: number }]>([
    ['ping', '2001:db8::1', { host: '2001:db8::1', port: 0 }],
    ['dns', '2001:db8::53', { host: '2001:db8::53', port: 53 }],
    ['tcp', '[2001:db8::53]:443', { host: '2001:db8::53', port: 443 }],
    ['http', 'http://[2001:db8::80]/health', { host: '2001:db8::80', port: 80 }],
    ['http', 'https://[2001:db8::80]:8443/', { host: '2001:db8::80', port: 8443 }],
  ])('%s accepts the IPv6 target %j, host without brackets, family ipv6', (method, text, want) => {
    expect(parseTarget(method, text)).toMatchObject({ method, text, family: 'ipv6', ...want });
  });

  it.each<[Method, string]>([
    ['ping', '192.0.2.1'],
    ['tcp', '192.0.2.53:443'],
    ['http', 'http://192.0.2.80/'],
    ['dns', '192.0.2.53'],
  ])('%s says %j is an IPv4 target', (method, text) => {
    expect(parseTarget(method, text)).toMatchObject({ family: 'ipv4' });
  });

  it('an http target keeps its URL for the request', () => {
    const t = parseTarget('http', 'http://192.0.2.80:8080/health?deep=1');
    if ('error' in t || t.method !== 'http') throw new Error('expected an http target');
    expect(t.url.href).toBe('http://192.0.2.80:8080/health?deep=1');
  });

  it.each<[Method, string, { host: string; port: number }]>([
    ['ping', 'one.one.one.one', { host: 'one.one.one.one', port: 0 }],
    ['ping', 'router', { host: 'router', port: 0 }],
    ['ping', 'www.example.net.', { host: 'www.example.net.', port: 0 }],
    ['dns', 'ns1.example.net', { host: 'ns1.example.net', port: 53 }],
    ['tcp', 'www.example.net:443', { host: 'www.example.net', port: 443 }],
    ['tcp', 'x-1.example.net:1', { host: 'x-1.example.net', port: 1 }],
    ['http', 'http://www.example.net/health', { host: 'www.example.net', port: 80 }],
    ['http', 'https://WWW.Example.NET:8443/', { host: 'www.example.net', port: 8443 }],
  ])('%s accepts the host name %j, marked as a name to resolve', (method, text, want) => {
    expect(parseTarget(method, text)).toMatchObject({ method, text, name: true, ...want });
  });

  it.each<[Method, string]>([
    ['ping', '192.0.2.1'],
    ['dns', '192.0.2.53'],
    ['tcp', '192.0.2.53:443'],
    ['http', 'http://192.0.2.80/'],
  ])('%s takes %j as an address, never a name', (method, text) => {
    expect(parseTarget(method, text)).toMatchObject({ name: false });
  });

  const PING = '(ping targets look like "192.0.2.53", "2001:db8::53" or "dns.example.net")';
  const DNS = '(dns targets look like "192.0.2.53", "2001:db8::53" or "dns.example.net")';
  const TCP = '(tcp targets look like "192.0.2.53:443", "[2001:db8::53]:443" or "www.example.net:443")';
  const HTTP = '(http targets look like "http://192.0.2.80/health", "http://[2001:db8::80]/health" or "https://www.example.net/")';
  it.each<[Method, string, string]>([
    ['ping', '192.0.2.1:80', `"192.0.2.1:80" is not an IPv4 or IPv6 address or a host name ${PING}`],
    ['ping', '256.0.0.1', `"256.0.0.1" is not an IPv4 or IPv6 address or a host name ${PING}`],
    ['ping', '010.0.0.1', `"010.0.0.1" is not an IPv4 or IPv6 address or a host name ${PING}`],
    ['ping', '192.0.2', `"192.0.2" is not an IPv4 or IPv6 address or a host name ${PING}`],
    ['ping', '2001:db8::zz', `"2001:db8::zz" is not an IPv4 or IPv6 address or a host name ${PING}`],
    ['tcp', '2001:db8::1:443', `"2001:db8::1:443" is not address:port or name:port ${TCP}`],
    ['tcp', '[192.0.2.1]:443', `"[192.0.2.1]:443" is not address:port or name:port ${TCP}`],
    ['ping', 'bad_name.example', `"bad_name.example" is not an IPv4 or IPv6 address or a host name ${PING}`],
    ['ping', '-lead.example', `"-lead.example" is not an IPv4 or IPv6 address or a host name ${PING}`],
    ['ping', 'trail-.example', `"trail-.example" is not an IPv4 or IPv6 address or a host name ${PING}`],
    ['ping', 'a..b', `"a..b" is not an IPv4 or IPv6 address or a host name ${PING}`],
    ['ping', '.', `"." is not an IPv4 or IPv6 address or a host name ${PING}`],
    ['ping', 'has space.example', `"has space.example" is not an IPv4 or IPv6 address or a host name ${PING}`],
    ['ping', `${'a'.repeat(64)}.example`, `"${'a'.repeat(64)}.example" is not an IPv4 or IPv6 address or a host name ${PING}`],
    ['ping', `${'abcdefghi.'.repeat(25)}abcd`, `"${'abcdefghi.'.repeat(25)}abcd" is not an IPv4 or IPv6 address or a host name ${PING}`],
    ['ping', '-c1', `"-c1" is not an IPv4 or IPv6 address or a host name ${PING}`],
    ['dns', '192.0.2.53:53', `"192.0.2.53:53" is not an IPv4 or IPv6 address or a host name ${DNS}`],
    ['dns', 'ns.example.net:53', `"ns.example.net:53" is not an IPv4 or IPv6 address or a host name ${DNS}`],
    ['tcp', '192.0.2.1', `"192.0.2.1" is not address:port or name:port ${TCP}`],
    ['tcp', 'www.example.net', `"www.example.net" is not address:port or name:port ${TCP}`],
    ['http', 'http://192.0.2.80:0/', '"http://192.0.2.80:0/": port 0 is not a port to connect to'],
    ['tcp', '192.0.2.1:0', `"192.0.2.1:0" is not address:port or name:port ${TCP}`],
    ['tcp', '192.0.2.1:65536', `"192.0.2.1:65536" is not address:port or name:port ${TCP}`],
    ['tcp', '192.0.2.1:123456', `"192.0.2.1:123456" is not address:port or name:port ${TCP}`],
    ['tcp', 'bad_name:443', `"bad_name:443" is not address:port or name:port ${TCP}`],
    ['tcp', ':443', `":443" is not address:port or name:port ${TCP}`],
    ['tcp', '192.0.2.1:https', `"192.0.2.1:https" is not address:port or name:port ${TCP}`],
    ['http', '192.0.2.80/health', `"192.0.2.80/health" is not a URL ${HTTP}`],
    ['http', 'not a url', `"not a url" is not a URL ${HTTP}`],
    ['http', 'ftp://192.0.2.80/', '"ftp://192.0.2.80/" must start with http:// or https://'],
    ['http', 'http://bad_name.example/health', '"http://bad_name.example/health": the host must be an IPv4 address, an IPv6 one in brackets or a host name'],
    ['http', 'https://[2001:db8::zz]/', `"https://[2001:db8::zz]/" is not a URL ${HTTP}`],
  ])('%s refuses %j', (method, text, error) => {
    expect(parseTarget(method, text)).toEqual({ error });
  });
});
