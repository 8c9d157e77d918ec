import { promises as dns } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Checks for URLs that users give us and that the server then calls (push endpoints, webhooks), so
 * nobody can make Herald reach its own network (SSRF): a URL is checked, and the connection is then
 * pinned to the addresses that were checked (`pinnedLookup`), so a DNS answer that changes between the
 * check and the connection (rebinding) cannot redirect it.
 */

export interface UrlPolicy {
  /** Development only: loopback addresses (127.0.0.0/8, ::1, `localhost`) are allowed, over http too. */
  allowLoopback: boolean;
  /** Resolves names; the system's DNS servers when absent. */
  resolver?: { resolve4(host: string): Promise<string[]>; resolve6(host: string): Promise<string[]> };
}

/**
 * A checked URL and the addresses a connection may use, or why it is refused. `temporary`: the check
 * could not be completed (the DNS server did not answer), so a later check may pass.
 */
export type UrlCheck =
  { ok: true; url: URL; addresses: string[] } | { ok: false; reason: string; temporary?: boolean };

type Category =
  'loopback' | 'private' | 'link-local' | 'unique-local' | 'CGNAT' | 'multicast' | 'unspecified' | 'reserved';

const RANGES: [Category, 'ipv4' | 'ipv6', string, number][] = [
  ['unspecified', 'ipv4', '0.0.0.0', 8],
  ['loopback', 'ipv4', '127.0.0.0', 8],
  ['private', 'ipv4', '10.0.0.0', 8],
  ['private', 'ipv4', '172.16.0.0', 12],
  ['private', 'ipv4', '192.168.0.0', 16],
  ['CGNAT', 'ipv4', '100.64.0.0', 10],
  ['link-local', 'ipv4', '169.254.0.0', 16],
  ['multicast', 'ipv4', '224.0.0.0', 4],
  // Reserved for future use, and the broadcast address 255.255.255.255.
  ['reserved', 'ipv4', '240.0.0.0', 4],
  // IETF protocol assignments, documentation (TEST-NET-1..3), benchmarking, the 6to4 relay anycast.
  ['reserved', 'ipv4', '192.0.0.0', 24],
  ['reserved', 'ipv4', '192.0.2.0', 24],
  ['reserved', 'ipv4', '198.51.100.0', 24],
  ['reserved', 'ipv4', '203.0.113.0', 24],
  ['reserved', 'ipv4', '198.18.0.0', 15],
  ['reserved', 'ipv4', '192.88.99.0', 24],
  ['unspecified', 'ipv6', '::', 128],
  ['loopback', 'ipv6', '::1', 128],
  ['link-local', 'ipv6', 'fe80::', 10],
  ['unique-local', 'ipv6', 'fc00::', 7],
  // Site-local (deprecated, but still routed inside some networks).
  ['private', 'ipv6', 'fec0::', 10],
  ['multicast', 'ipv6', 'ff00::', 8],
  // Discard-only, IETF protocol assignments (Teredo, ORCHID…), documentation, local-use NAT64.
  ['reserved', 'ipv6', '100::', 64],
  ['reserved', 'ipv6', '2001::', 23],
  ['reserved', 'ipv6', '2001:db8::', 32],
  ['reserved', 'ipv6', '64:ff9b:1::', 48],
];

const BLOCKS: [Category, BlockList][] = (() => {
  const lists = new Map<Category, BlockList>();
  for (const [category, family, network, prefix] of RANGES) {
    if (!lists.has(category)) lists.set(category, new BlockList());
    lists.get(category)!.addSubnet(network, prefix, family);
  }
  return [...lists];
})();

/** IPv6 forms that carry an IPv4 address, which is what a connection to them would reach. */
const EMBEDDED_IPV4: { form: string; matches(b: Buffer): boolean; offset: number }[] = [
  {
    form: 'IPv4-mapped',
    matches: (b) => b.subarray(0, 10).every((x) => x === 0) && b.readUInt16BE(10) === 0xffff,
    offset: 12,
  },
  { form: 'IPv4-compatible', matches: (b) => b.subarray(0, 12).every((x) => x === 0), offset: 12 },
  {
    form: 'IPv4-translated',
    matches: (b) =>
      b.subarray(0, 8).every((x) => x === 0) && b.readUInt16BE(8) === 0xffff && b.readUInt16BE(10) === 0,
    offset: 12,
  },
  {
    form: 'NAT64',
    matches: (b) => b.readUInt32BE(0) === 0x0064ff9b && b.subarray(4, 12).every((x) => x === 0),
    offset: 12,
  },
  { form: '6to4', matches: (b) => b.readUInt16BE(0) === 0x2002, offset: 2 },
];

/** What is wrong with an address (a literal IPv4 or IPv6 address), or null for a public one. */
export function addressProblem(address: string): { category: Category; description: string } | null {
  const family = isIP(address);
  if (family === 4) {
    const category = categoryOf(address, 'ipv4');
    return category ? { category, description: `${address} is ${article(category)} address` } : null;
  }
  if (family !== 6) return { category: 'reserved', description: `${address} is not an IP address` };
  const plain = address.split('%')[0]!;
  const bytes = ipv6Bytes(plain);
  const own = categoryOf(plain, 'ipv6');
  // ::1 and :: are themselves, not IPv4-compatible forms of 0.0.0.1 and 0.0.0.0.
  if (bytes.subarray(0, 15).every((x) => x === 0) && bytes[15]! <= 1)
    return { category: own!, description: `${address} is ${article(own!)} address` };
  for (const embedded of EMBEDDED_IPV4) {
    if (!embedded.matches(bytes)) continue;
    const v4 = [...bytes.subarray(embedded.offset, embedded.offset + 4)].join('.');
    const category = categoryOf(v4, 'ipv4');
    if (category)
      return {
        category,
        description: `${address} is the ${embedded.form} form of ${v4}, ${article(category)} address`,
      };
  }
  return own ? { category: own, description: `${address} is ${article(own)} address` } : null;
}

function categoryOf(address: string, family: 'ipv4' | 'ipv6'): Category | null {
  // BlockList also matches IPv4-mapped IPv6 addresses against IPv4 rules; EMBEDDED_IPV4 says which form.
  for (const [category, list] of BLOCKS) if (list.check(address, family)) return category;
  return null;
}

const article = (category: Category) => (category === 'unspecified' ? `an ${category}` : `a ${category}`);

/** The 16 bytes of a valid IPv6 address text (as `isIP` accepts it, zone id removed). */
function ipv6Bytes(address: string): Buffer {
  let text = address;
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const [a, b, c, d] = last.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...tailGroups];
  const bytes = Buffer.alloc(16);
  groups.forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), i * 2));
  return bytes;
}

/**
 * The host as written in `raw`, before the URL parser normalised it (`2130706433`, `0x7f.1`,
 * `0177.0.0.1`, `127.1`, `127.0.0.%31` all become `127.0.0.1`).
 */
function hostAsWritten(raw: string): string | null {
  // The URL parser drops tabs and newlines anywhere, and leading controls and spaces; it treats
  // `\` like `/` in http(s) URLs.
  const text = raw.replace(/[\t\n\r]/g, '');
  let start = 0;
  while (start < text.length && text.charCodeAt(start) <= 0x20) start++;
  const match = /^[a-z][a-z\d+.-]*:[/\\]*([^/\\?#]*)/i.exec(text.slice(start));
  if (!match) return null;
  const authority = match[1]!.slice(match[1]!.lastIndexOf('@') + 1);
  return authority.startsWith('[') ? authority : authority.replace(/:\d*$/, '');
}

const LOOPBACK_NAME = /^(.+\.)?localhost\.?$/;
const LOOPBACK_HINT = ' (HERALD_ALLOW_LOOPBACK_URLS=true allows loopback URLs in development)';
/** Answers that mean "no such records", as opposed to "the DNS server could not answer". */
const NO_RECORDS = new Set(['ENOTFOUND', 'ENODATA']);

let systemResolver: dns.Resolver | undefined;

/**
 * https only (http only to loopback when allowLoopback); refuses literal and resolved addresses that
 * are loopback (unless allowed), private, link-local, unique-local, CGNAT, multicast, unspecified,
 * IPv4-mapped/compat forms of those, and odd IPv4 spellings (decimal 2130706433, hex, octal, short
 * forms); refuses URLs with credentials.
 *
 * A name is resolved (A and AAAA) and refused if any of its addresses is refused; `addresses` are the
 * checked ones: connect only to them (`pinnedLookup`).
 */
export async function checkPublicUrl(raw: string, policy: UrlPolicy): Promise<UrlCheck> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'is not a valid URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return { ok: false, reason: `must be an https URL, not ${url.protocol}` };
  // Without the development setting http is refused before any DNS lookup.
  if (url.protocol === 'http:' && !policy.allowLoopback) return { ok: false, reason: 'must be an https URL' };
  if (url.username || url.password) return { ok: false, reason: 'must not contain credentials' };
  const host = url.hostname;
  if (!host) return { ok: false, reason: 'has no host' };

  let addresses: string[];
  let named = '';
  if (host.startsWith('[')) {
    addresses = [host.slice(1, -1)];
  } else if (isIP(host) === 4) {
    if (hostAsWritten(raw)?.toLowerCase() !== host)
      return {
        ok: false,
        reason: `writes the IPv4 address ${host} in an unusual notation (${hostAsWritten(raw)})`,
      };
    addresses = [host];
  } else if (LOOPBACK_NAME.test(host)) {
    if (!policy.allowLoopback) return { ok: false, reason: `${host} is a loopback name${LOOPBACK_HINT}` };
    addresses = ['127.0.0.1', '::1'];
    named = `${host} `;
  } else {
    const resolved = await resolve(host, policy.resolver ?? (systemResolver ??= new dns.Resolver()));
    if (!resolved.ok) return resolved;
    addresses = resolved.addresses;
    named = `${host} resolves to `;
  }

  for (const address of addresses) {
    const problem = addressProblem(address);
    if (!problem) continue;
    if (problem.category === 'loopback' && policy.allowLoopback) continue;
    const hint = problem.category === 'loopback' ? LOOPBACK_HINT : '';
    const description = named ? `${named}${problem.description.replace(/ is /, ', ')}` : problem.description;
    return { ok: false, reason: `${description}${hint}` };
  }
  if (url.protocol === 'http:' && !addresses.every((a) => addressProblem(a)?.category === 'loopback'))
    return { ok: false, reason: 'must be an https URL (http is allowed only to loopback addresses)' };
  return { ok: true, url, addresses };
}

/**
 * Links Herald puts in front of people (a template's `format: url` variable, rendered into an email's
 * href and a push or inbox message's link), as opposed to URLs the server itself calls: the form only,
 * no DNS. https only (http only to a loopback host when allowLoopback, for development), which refuses
 * javascript:, data:, vbscript: and every other scheme, and relative URLs; no credentials
 * (`https://bank.example@evil.example` reads as bank.example); no control characters or surrounding
 * spaces, which the URL parser drops silently, so what it checked would not be what is rendered.
 * The reason it is refused, or null.
 */
export function linkUrlProblem(raw: string, policy: { allowLoopback: boolean }): string | null {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(raw) || raw !== raw.trim())
    return 'must not contain control characters or surrounding spaces';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute https URL';
  }
  if (url.protocol === 'http:') {
    if (!policy.allowLoopback) return 'must be an https URL';
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const loopback = isIP(host) ? addressProblem(host)?.category === 'loopback' : LOOPBACK_NAME.test(host);
    if (!loopback) return 'must be an https URL (http is allowed only to loopback hosts)';
  } else if (url.protocol !== 'https:') {
    return `must be an https URL, not ${url.protocol}`;
  }
  if (url.username || url.password) return 'must not contain credentials';
  return null;
}

/** The longest a URL check waits for DNS before it reports a temporary failure. */
const RESOLVE_DEADLINE_MS = 5_000;

async function resolve(
  host: string,
  resolver: NonNullable<UrlPolicy['resolver']>,
): Promise<{ ok: true; addresses: string[] } | { ok: false; reason: string; temporary?: boolean }> {
  // One bound for the whole lookup: a resolver's own timeout multiplies by its servers and tries, and a
  // request must not wait on an unreachable DNS for longer than a client would (a temporary failure).
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error('timed out'), { code: 'ETIMEOUT' })),
      RESOLVE_DEADLINE_MS,
    );
  });
  const bounded = <T>(lookup: Promise<T>) => Promise.race([lookup, deadline]);
  const answers = await Promise.allSettled([
    bounded(resolver.resolve4(host)),
    bounded(resolver.resolve6(host)),
  ]);
  clearTimeout(timer);
  const addresses = answers.flatMap((a) => (a.status === 'fulfilled' ? a.value : []));
  if (addresses.length > 0) return { ok: true, addresses };
  const failures = answers
    .map((a) => (a.status === 'rejected' ? ((a.reason as { code?: string } | null)?.code ?? 'error') : null))
    .filter((code): code is string => code !== null && !NO_RECORDS.has(code));
  if (failures.length > 0)
    return { ok: false, reason: `${host} could not be resolved (${failures[0]})`, temporary: true };
  return { ok: false, reason: `${host} does not resolve` };
}

/** The configured resolver: HERALD_DNS_SERVERS (comma-separated host:port) or the system's. */
export function resolverFromSettings(settings: { HERALD_DNS_SERVERS?: string }): UrlPolicy['resolver'] {
  const resolver = new dns.Resolver({ timeout: 3_000, tries: 2 });
  const servers = (settings.HERALD_DNS_SERVERS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (servers.length > 0) {
    try {
      resolver.setServers(servers);
    } catch (error) {
      throw new Error(
        `HERALD_DNS_SERVERS must be comma-separated host:port addresses such as 127.0.0.1:53 or [::1]:53, got ${settings.HERALD_DNS_SERVERS}`,
        { cause: error },
      );
    }
  }
  return resolver;
}

/**
 * A `lookup` for `http.request`/`https.request`/`net.connect` that answers only with addresses
 * checked by `checkPublicUrl`, so the connection goes where the check looked, whatever DNS says
 * by then. (Literal IP hosts never reach `lookup`; they were checked as they are.)
 */
export function pinnedLookup(addresses: string[]): LookupFunction {
  const entries = addresses.map((address) => ({ address, family: isIP(address) }));
  return (hostname, options, callback) => {
    const wanted = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family ?? 0);
    const usable = wanted ? entries.filter((e) => e.family === wanted) : entries;
    if (usable.length === 0) {
      const error = Object.assign(new Error(`no checked IPv${wanted} address for ${hostname}`), {
        code: 'ENOTFOUND',
      });
      callback(error, '', 0);
    } else if (options.all) {
      callback(null, usable);
    } else {
      callback(null, usable[0]!.address, usable[0]!.family);
    }
  };
}
