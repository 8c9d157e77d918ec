import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';

/** The records of one name; a name absent from the zone gets NXDOMAIN. */
export interface DnsRecords {
  A?: string[];
  AAAA?: string[];
}

export interface FakeDnsServer {
  /** `127.0.0.1:<port>`, for HERALD_DNS_SERVERS. */
  address: string;
  /** Sets (or, with null, removes) a name's records; answers change at once, as in a rebinding attack. */
  set(name: string, records: DnsRecords | null): void;
  /** The questions asked so far, as `NAME TYPE`. */
  queries(): string[];
  close(): Promise<void>;
}

const TYPES = { A: 1, AAAA: 28 } as const;

/**
 * A loopback DNS server speaking the real wire format (RFC 1035) over UDP, answering A and AAAA
 * questions from a zone the test controls, so names can resolve to private or public addresses.
 */
export async function startFakeDns(zone: Record<string, DnsRecords> = {}): Promise<FakeDnsServer> {
  const records = new Map(Object.entries(zone).map(([name, r]) => [name.toLowerCase(), r]));
  const asked: string[] = [];
  const socket = createSocket('udp4');
  socket.on('message', (query, peer) => {
    const answer = respond(query, records, asked);
    if (answer) socket.send(answer, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    set(name, value) {
      if (value) records.set(name.toLowerCase(), value);
      else records.delete(name.toLowerCase());
    },
    queries: () => [...asked],
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

function respond(query: Buffer, zone: Map<string, DnsRecords>, asked: string[]): Buffer | null {
  if (query.length < 12 || query.readUInt16BE(4) !== 1) return null;
  // The question: length-prefixed labels, a zero byte, then QTYPE and QCLASS.
  const labels: string[] = [];
  let offset = 12;
  while (offset < query.length && query[offset] !== 0) {
    const length = query[offset]!;
    labels.push(query.subarray(offset + 1, offset + 1 + length).toString('ascii'));
    offset += 1 + length;
  }
  const questionEnd = offset + 5;
  if (questionEnd > query.length) return null;
  const qtype = query.readUInt16BE(offset + 1);
  const name = labels.join('.').toLowerCase();
  const typeName = qtype === TYPES.A ? 'A' : qtype === TYPES.AAAA ? 'AAAA' : String(qtype);
  asked.push(`${name} ${typeName}`);

  const entry = zone.get(name);
  const addresses = entry ? ((typeName === 'A' || typeName === 'AAAA' ? entry[typeName] : []) ?? []) : [];
  const answers = addresses.map((address) => {
    const rdata = typeName === 'A' ? Buffer.from(address.split('.').map(Number)) : ipv6ToBytes(address);
    const record = Buffer.alloc(12);
    record.writeUInt16BE(0xc00c, 0); // a pointer to the name in the question
    record.writeUInt16BE(qtype, 2);
    record.writeUInt16BE(1, 4); // IN
    record.writeUInt32BE(5, 6); // TTL: short, names here change during a test
    record.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([record, rdata]);
  });
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0); // the query's id
  // QR, the query's RD, RA; RCODE 3 (NXDOMAIN) for a name outside the zone.
  header.writeUInt16BE(0x8000 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | (entry ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, query.subarray(12, questionEnd), ...answers]);
}

function ipv6ToBytes(address: string): Buffer {
  const [head, tail] = address.split('::') as [string, string | undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...tailGroups];
  const bytes = Buffer.alloc(16);
  groups.forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), i * 2));
  return bytes;
}
