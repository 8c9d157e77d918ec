import { createSocket } from 'node:dgram';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkPublicUrl, pinnedLookup, resolverFromSettings, type UrlPolicy } from '../../common/url-safety';
import { startFakeDns, type FakeDnsServer } from '../support/dns-server';

/** A resolver that fails the test if a literal address or a refused scheme ever reaches DNS. */
const noDns: UrlPolicy['resolver'] = {
  resolve4: (host) => Promise.reject(new Error(`unexpected DNS lookup of ${host}`)),
  resolve6: (host) => Promise.reject(new Error(`unexpected DNS lookup of ${host}`)),
};

const strict: UrlPolicy = { allowLoopback: false, resolver: noDns };
const dev: UrlPolicy = { allowLoopback: true, resolver: noDns };

describe('checkPublicUrl on literal addresses and odd forms', () => {
  it.each([
    ['http://example.com/x', /must be an https URL/],
    ['ftp://93.184.216.34/x', /must be an https URL/],
    ['javascript:alert(1)', /must be an https URL/],
    ['not a url', /not a valid URL/],
    ['https://user:pass@93.184.216.34/x', /credentials/],
    ['https://user@93.184.216.34/x', /credentials/],
    ['https://127.0.0.1/x', /127\.0\.0\.1 is a loopback address/],
    ['https://127.0.0.1:8443/x', /loopback/],
    ['https://[::1]/x', /::1 is a loopback address/],
    ['https://localhost/x', /localhost is a loopback name/],
    ['https://push.localhost/x', /loopback name/],
    ['https://LOCALHOST./x', /loopback name/],
    ['https://169.254.169.254/x', /169\.254\.169\.254 is a link-local address/],
    ['https://10.0.0.1/x', /a private address/],
    ['https://172.16.5.4/x', /a private address/],
    ['https://192.168.1.1/x', /a private address/],
    ['https://100.64.0.1/x', /a CGNAT address/],
    ['https://0.0.0.0/x', /an unspecified address/],
    ['https://224.0.0.1/x', /a multicast address/],
    ['https://255.255.255.255/x', /a reserved address/],
    ['https://192.0.2.10/x', /a reserved address/],
    ['https://[::]/x', /an unspecified address/],
    ['https://[fe80::1]/x', /a link-local address/],
    ['https://[fc00::1]/x', /a unique-local address/],
    ['https://[fd12:3456::1]/x', /a unique-local address/],
    ['https://[ff02::1]/x', /a multicast address/],
    ['https://[::ffff:127.0.0.1]/x', /IPv4-mapped form of 127\.0\.0\.1, a loopback address/],
    ['https://[::ffff:7f00:1]/x', /IPv4-mapped form of 127\.0\.0\.1/],
    ['https://[::ffff:169.254.169.254]/x', /IPv4-mapped form of 169\.254\.169\.254, a link-local/],
    ['https://[::ffff:10.0.0.1]/x', /IPv4-mapped form of 10\.0\.0\.1, a private/],
    ['https://[::127.0.0.1]/x', /IPv4-compatible form of 127\.0\.0\.1/],
    ['https://[::ffff:0:127.0.0.1]/x', /IPv4-translated form of 127\.0\.0\.1/],
    ['https://[64:ff9b::a9fe:a9fe]/x', /NAT64 form of 169\.254\.169\.254/],
    ['https://[2002:a00:1::1]/x', /6to4 form of 10\.0\.0\.1/],
    ['https://2130706433/x', /IPv4 address 127\.0\.0\.1 in an unusual notation \(2130706433\)/],
    ['https://0x7f000001/x', /unusual notation/],
    ['https://0x7f.0.0.1/x', /unusual notation/],
    ['https://0177.0.0.1/x', /unusual notation/],
    ['https://127.1/x', /unusual notation/],
    ['https://127.0.0.%31/x', /unusual notation/],
    ['https://127.0.0.1./x', /unusual notation/],
    [' \x01https://0x7f.1/x', /unusual notation/],
    ['https:\\\\2130706433\\x', /unusual notation/],
    ['https://0x7f.0.0.\t1/x', /unusual notation/],
    ['https://@2130706433/x', /unusual notation/],
    // A public address written oddly is refused too: nobody needs it, filters get it wrong.
    ['https://1572395042/x', /IPv4 address 93\.184\.216\.34 in an unusual notation/],
  ])('refuses %s', async (url, reason) => {
    const check = await checkPublicUrl(url, strict);
    expect(check).toEqual({ ok: false, reason: expect.stringMatching(reason) });
  });

  it.each([
    ['https://93.184.216.34/', ['93.184.216.34']],
    ['https://93.184.216.34:8443/push?x=1', ['93.184.216.34']],
    ['HTTPS://8.8.8.8/p', ['8.8.8.8']],
    ['https://[2606:2800:220:1:248:1893:25c8:1946]/p', ['2606:2800:220:1:248:1893:25c8:1946']],
  ])('accepts the public literal %s', async (url, addresses) => {
    const check = await checkPublicUrl(url, strict);
    expect(check).toMatchObject({ ok: true, addresses });
  });

  it.each([
    ['http://127.0.0.1:8080/x', ['127.0.0.1']],
    ['https://[::1]/x', ['::1']],
    ['http://localhost:3000/x', ['127.0.0.1', '::1']],
    ['https://[::ffff:127.0.0.1]/x', ['::ffff:7f00:1']],
  ])('with allowLoopback accepts %s', async (url, addresses) => {
    expect(await checkPublicUrl(url, dev)).toMatchObject({ ok: true, addresses });
  });

  it.each([
    ['http://93.184.216.34/x', /http is allowed only to loopback/],
    ['http://10.0.0.1/x', /private/],
    ['https://169.254.169.254/x', /link-local/],
    ['https://[fd00::1]/x', /unique-local/],
    ['http://2130706433/x', /unusual notation/],
  ])('with allowLoopback still refuses %s', async (url, reason) => {
    expect(await checkPublicUrl(url, dev)).toEqual({ ok: false, reason: expect.stringMatching(reason) });
  });
});

describe('checkPublicUrl on names, through a DNS server from HERALD_DNS_SERVERS', () => {
  let dns: FakeDnsServer;
  let policy: UrlPolicy;
  beforeAll(async () => {
    dns = await startFakeDns({
      'private.herald.test': { A: ['10.1.2.3'] },
      'public.herald.test': { A: ['93.184.216.34'] },
      'v6.herald.test': { AAAA: ['2606:2800:220:1:248:1893:25c8:1946'] },
      'mixed.herald.test': { A: ['93.184.216.34'], AAAA: ['::1'] },
      'mapped.herald.test': { AAAA: ['::ffff:a00:1'] },
      'loop.herald.test': { A: ['127.0.0.1'] },
      'empty.herald.test': {},
    });
    policy = { allowLoopback: false, resolver: resolverFromSettings({ HERALD_DNS_SERVERS: dns.address }) };
  });
  afterAll(async () => {
    await dns.close();
  });

  it('refuses a name that resolves to a private address', async () => {
    expect(await checkPublicUrl('https://private.herald.test/push', policy)).toEqual({
      ok: false,
      reason: 'private.herald.test resolves to 10.1.2.3, a private address',
    });
    expect(dns.queries()).toEqual(
      expect.arrayContaining(['private.herald.test A', 'private.herald.test AAAA']),
    );
  });

  it('accepts a name that resolves to a public address, and returns the addresses to connect to', async () => {
    const check = await checkPublicUrl('https://public.herald.test/push/1', policy);
    expect(check).toMatchObject({ ok: true, addresses: ['93.184.216.34'] });
    expect(check.ok && check.url.hostname).toBe('public.herald.test');
    expect(await checkPublicUrl('https://v6.herald.test/', policy)).toMatchObject({
      ok: true,
      addresses: ['2606:2800:220:1:248:1893:25c8:1946'],
    });
  });

  it('refuses a name that does not resolve (NXDOMAIN, or no A/AAAA records)', async () => {
    expect(await checkPublicUrl('https://missing.herald.test/', policy)).toEqual({
      ok: false,
      reason: 'missing.herald.test does not resolve',
    });
    expect(await checkPublicUrl('https://empty.herald.test/', policy)).toEqual({
      ok: false,
      reason: 'empty.herald.test does not resolve',
    });
  });

  it('refuses a name when any of its addresses is refused', async () => {
    expect(await checkPublicUrl('https://mixed.herald.test/', policy)).toEqual({
      ok: false,
      reason: expect.stringMatching(/^mixed\.herald\.test resolves to ::1, a loopback address/),
    });
    expect(await checkPublicUrl('https://mapped.herald.test/', policy)).toEqual({
      ok: false,
      reason: expect.stringMatching(/IPv4-mapped form of 10\.0\.0\.1, a private address/),
    });
  });

  it('lets a name resolving to loopback through over http only with allowLoopback', async () => {
    expect(await checkPublicUrl('http://loop.herald.test:8080/', policy)).toEqual({
      ok: false,
      reason: 'must be an https URL',
    });
    expect(await checkPublicUrl('https://loop.herald.test/', policy)).toEqual({
      ok: false,
      reason: expect.stringMatching(/^loop\.herald\.test resolves to 127\.0\.0\.1, a loopback address/),
    });
    expect(
      await checkPublicUrl('http://loop.herald.test:8080/', { ...policy, allowLoopback: true }),
    ).toMatchObject({ ok: true, addresses: ['127.0.0.1'] });
  });

  it('says a check is temporary when the DNS server does not answer', async () => {
    // A port nobody listens on: the lookup fails (refused or timed out), which is not "does not resolve".
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const deadPort = (socket.address() as AddressInfo).port;
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    const check = await checkPublicUrl('https://public.herald.test/', {
      allowLoopback: false,
      resolver: resolverFromSettings({ HERALD_DNS_SERVERS: `127.0.0.1:${deadPort}` }),
    });
    expect(check).toEqual({
      ok: false,
      reason: expect.stringMatching(/^public\.herald\.test could not be resolved \(E[A-Z]+\)$/),
      temporary: true,
    });
  });

  it('names HERALD_DNS_SERVERS when it cannot be used', () => {
    expect(() => resolverFromSettings({ HERALD_DNS_SERVERS: 'not an address' })).toThrow(
      /HERALD_DNS_SERVERS/,
    );
  });
});

describe('pinnedLookup', () => {
  it('connects a request for any name to the checked address only', async () => {
    const server = http.createServer((req, res) => res.end(`host ${req.headers.host}`));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      // The name does not exist anywhere; only the pinned lookup can take the request to the server.
      const text = await new Promise<string>((resolve, reject) => {
        http
          .get(
            {
              hostname: 'nowhere.herald.invalid',
              port,
              path: '/',
              lookup: pinnedLookup(['127.0.0.1']),
              agent: false,
            },
            (res) => {
              let body = '';
              res.on('data', (c) => (body += c));
              res.on('end', () => resolve(body));
            },
          )
          .on('error', reject);
      });
      expect(text).toBe(`host nowhere.herald.invalid:${port}`);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('answers only with checked addresses of the family asked for', () => {
    const lookup = pinnedLookup(['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946']);
    const calls: unknown[][] = [];
    lookup('example.com', { all: true }, (...args) => calls.push(args));
    lookup('example.com', { family: 6 }, (...args) => calls.push(args));
    lookup('example.com', { family: 4, all: true }, (...args) => calls.push(args));
    expect(calls).toEqual([
      [
        null,
        [
          { address: '93.184.216.34', family: 4 },
          { address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 },
        ],
      ],
      [null, '2606:2800:220:1:248:1893:25c8:1946', 6],
      [null, [{ address: '93.184.216.34', family: 4 }]],
    ]);
    const v4only = pinnedLookup(['93.184.216.34']);
    v4only('example.com', { family: 6 }, (error) => expect(error).toMatchObject({ code: 'ENOTFOUND' }));
  });
});
