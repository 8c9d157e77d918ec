/**
 * One email as the bytes nodemailer sends (`raw`), built without its streaming composer.
 *
 * Nodemailer's composer pipes each part through encoder streams and hands the socket one write per
 * chunk; in a fan-out that was about a fifth of the worker's main thread plus most of its socket
 * writes. Here the common header block is written directly (byte-equal to nodemailer's MimeNode,
 * which still writes every header that needs encoding), the two text parts get nodemailer's
 * 7bit / quoted-printable / base64 choice, and the whole message is one Buffer: one chunk through
 * SMTP's dot-stuffing and one socket write.
 */
import { randomBytes } from 'node:crypto';
import * as base64 from 'nodemailer/lib/base64';
import { foldLines } from 'nodemailer/lib/mime-funcs';
import MimeNode from 'nodemailer/lib/mime-node';

/** An address as nodemailer takes it: `Name <a@b>` or its parts. */
type Address = string | { name?: string; address: string };

export interface MailParts {
  from: Address;
  replyTo?: Address;
  to: Address;
  subject: string;
  html: string;
  text: string;
  messageId: string;
  headers: Record<string, string>;
}

export interface ComposedMail {
  /** MAIL FROM and RCPT TO, as nodemailer derives them from the From and To headers. */
  envelope: { from: string; to: string[] };
  raw: Buffer;
}

/** Random per process, so data in a message cannot guess the boundary; a counter keeps it unique. */
const BOUNDARY_BASE = randomBytes(8).toString('hex');
let boundaryCount = 0;

// Control characters are what this looks for.
// eslint-disable-next-line no-control-regex
const NOT_PLAIN = /[\x00-\x08\x0b\x0c\x0e-\x1f\u0080-\uFFFF]/;
const LONG_LINE = /^.{77,}/m;
const LINE_BREAK = /\r\n|\r|\n/g;

/**
 * 7bit for plain short-lined ASCII, else quoted-printable unless most letters are not Latin (the
 * rule nodemailer applies). Line breaks come out as CRLF, so SMTP's dot-stuffing has none to add.
 */
function encodePart(body: string, slot: number): { encoding: string; content: Buffer } {
  const plain = !NOT_PLAIN.test(body);
  if (plain && !LONG_LINE.test(body))
    return { encoding: '7bit', content: Buffer.from(body.replace(LINE_BREAK, '\r\n'), 'latin1') };
  // Counting letters is the costly part: plain ASCII (most HTML) is Latin by definition.
  if (plain || mostlyLatin(body))
    return { encoding: 'quoted-printable', content: encodeQuotedPrintable(body, scratch[slot]!) };
  return {
    encoding: 'base64',
    content: Buffer.from(base64.wrap(base64.encode(body), 76).replace(LINE_BREAK, '\r\n'), 'latin1'),
  };
}

/** Nodemailer's choice between Q and B: more Latin letters than 8-bit and control characters. */
function mostlyLatin(value: string): boolean {
  let nonLatin = 0;
  let latin = 0;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code <= 0x08 || code === 0x0b || code === 0x0c || (code >= 0x0e && code <= 0x1f) || code >= 0x80)
      nonLatin++;
    else if ((code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)) latin++;
  }
  return nonLatin < latin;
}

const HEX = Buffer.from('0123456789ABCDEF', 'latin1');
/** Output characters per line before a soft break's `=` (RFC 2045: at most 76 with it). */
const QP_LINE = 75;
/** What each byte is to quoted-printable: kept, a line end, white space, or escaped as =XX. */
const LITERAL = 0;
const LINE_END = 1;
const SPACE = 2;
const ESCAPED = 3;
const QP_KIND = Uint8Array.from({ length: 256 }, (_, byte) =>
  byte === 0x0d || byte === 0x0a
    ? LINE_END
    : byte === 0x20 || byte === 0x09
      ? SPACE
      : byte >= 0x21 && byte <= 0x7e && byte !== 0x3d
        ? LITERAL
        : ESCAPED,
);

/**
 * RFC 2045 quoted-printable of text in one pass over its UTF-8 bytes, straight into a Buffer (the
 * same encoding as nodemailer's encoder and wrap, without the intermediate strings): printable
 * ASCII but `=` stays as is, whitespace before a line end is escaped, a line break of any kind is
 * CRLF, and a soft break `=` CRLF keeps every line within 76 characters.
 */
export function quotedPrintable(text: string): Buffer {
  return Buffer.from(encodeQuotedPrintable(text, { input: Buffer.alloc(0), output: Buffer.alloc(0) }));
}

/**
 * Buffers reused from message to message (one pair per part), so a fan-out does not allocate and
 * collect tens of kilobytes outside the heap per mail; what they return is copied into the message.
 */
interface Scratch {
  input: Buffer;
  output: Buffer;
}
const SCRATCH_MAX_CHARS = 256 * 1024;
const scratch: Scratch[] = [0, 1].map(() => ({ input: Buffer.alloc(0), output: Buffer.alloc(0) }));

/** The encoding, into `space.output` (valid until its next use). */
function encodeQuotedPrintable(text: string, reused: Scratch): Buffer {
  // A rare huge message gets buffers of its own rather than keeping megabytes for good.
  const space =
    text.length <= SCRATCH_MAX_CHARS ? reused : { input: Buffer.alloc(0), output: Buffer.alloc(0) };
  // UTF-8 takes at most 3 bytes per UTF-16 unit.
  if (space.input.length < text.length * 3) space.input = Buffer.allocUnsafe(text.length * 3);
  const length = space.input.write(text, 'utf8');
  const input = space.input;
  // Worst case: every byte escaped (3) plus a soft break (3) per 25 escaped bytes.
  const needed = length * 3 + Math.ceil((length * 3) / QP_LINE) * 3 + 3;
  if (space.output.length < needed) space.output = Buffer.allocUnsafe(needed);
  const output = space.output;
  let out = 0;
  let column = 0;
  for (let i = 0; i < length; i++) {
    const byte = input[i]!;
    const kind = QP_KIND[byte]!;
    if (kind === LINE_END) {
      if (byte === 0x0d && i + 1 < length && input[i + 1] === 0x0a) i++;
      output[out++] = 0x0d;
      output[out++] = 0x0a;
      column = 0;
      continue;
    }
    // White space stays as is unless a line (or the text) ends right after it.
    if (kind === LITERAL || (kind === SPACE && i + 1 < length && QP_KIND[input[i + 1]!] !== LINE_END)) {
      if (column === QP_LINE) {
        output[out++] = 0x3d;
        output[out++] = 0x0d;
        output[out++] = 0x0a;
        column = 0;
      }
      output[out++] = byte;
      column++;
      continue;
    }
    if (column + 3 > QP_LINE) {
      output[out++] = 0x3d;
      output[out++] = 0x0d;
      output[out++] = 0x0a;
      column = 0;
    }
    output[out++] = 0x3d;
    output[out++] = HEX[byte >> 4]!;
    output[out++] = HEX[byte & 0x0f]!;
    column += 3;
  }
  return output.subarray(0, out);
}

export function composeMail(mail: MailParts): ComposedMail {
  const text = encodePart(mail.text, 0);
  const html = encodePart(mail.html, 1);
  let boundary: string;
  do {
    boundaryCount = (boundaryCount + 1) % Number.MAX_SAFE_INTEGER;
    boundary = `--_Herald-${BOUNDARY_BASE}-${boundaryCount.toString(16)}`;
    // A delimiter must not occur in a part; the random base makes this next to impossible.
  } while (text.content.includes(boundary) || html.content.includes(boundary));
  const date = new Date().toUTCString().replace(/GMT/, '+0000');
  const { headers, envelope } = plainHeaders(mail, boundary, date) ?? mimeNodeHeaders(mail, boundary, date);
  const head = (part: string, encoding: string) =>
    `--${boundary}\r\nContent-Type: text/${part}; charset=utf-8\r\nContent-Transfer-Encoding: ${encoding}\r\n\r\n`;
  const raw = Buffer.concat([
    Buffer.from(`${headers}\r\n\r\n${head('plain', text.encoding)}`, 'utf8'),
    text.content,
    Buffer.from(`\r\n${head('html', html.encoding)}`, 'latin1'),
    html.content,
    Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1'),
  ]);
  return { envelope, raw };
}

interface HeaderBlock {
  headers: string;
  envelope: ComposedMail['envelope'];
}

/** Every header as nodemailer's MimeNode writes it (encoded words, punycode, quoting, folding). */
export function mimeNodeHeaders(mail: MailParts, boundary: string, date: string): HeaderBlock {
  const root = new MimeNode(`multipart/alternative; boundary="${boundary}"`, {
    // Given, so the node draws no random bytes of its own.
    baseBoundary: BOUNDARY_BASE,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  // Address headers take objects; MimeNode's typing says string.
  root.setHeader({
    ...mail.headers,
    From: mail.from,
    ...(mail.replyTo ? { 'Reply-To': mail.replyTo } : {}),
    To: mail.to,
    Subject: mail.subject,
    'Message-ID': mail.messageId,
    Date: date,
  } as unknown as Record<string, string>);
  const envelope = root.getEnvelope() as { from: string | false; to: string[] };
  if (!envelope.from)
    throw Object.assign(new Error('the sender address is not valid'), { code: 'EENVELOPE' });
  if (envelope.to.length === 0)
    throw Object.assign(new Error('the recipient address is not valid'), { code: 'EENVELOPE' });
  return { headers: root.buildHeaders(), envelope: { from: envelope.from, to: envelope.to } };
}

/** Printable ASCII that no encoder would touch (`=?` could read as an encoded word). */
const PLAIN_VALUE = /^(?!.*=\?)[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
/** A name MimeNode writes bare, and an address it writes unchanged (ASCII, lower-case domain). */
const PLAIN_NAME = /^[\w ]*$/;
const PLAIN_ADDRESS = /^[A-Za-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+$/;
/** Header lines MimeNode folds; shorter ones are written as they are. */
const FOLD_AT = 76;

/** The sender's From and Reply-To lines and envelope sender, built once by MimeNode per sender. */
const senders = new Map<string, { lines: string[]; envelopeFrom: string }>();
const SENDERS_MAX = 100;

function senderLines(from: Address, replyTo: Address | undefined) {
  const key = JSON.stringify([from, replyTo ?? null]);
  let sender = senders.get(key);
  if (!sender) {
    const node = new MimeNode('text/plain', { baseBoundary: BOUNDARY_BASE });
    node.setHeader({ From: from, ...(replyTo ? { 'Reply-To': replyTo } : {}) } as unknown as Record<
      string,
      string
    >);
    const envelopeFrom = (node.getEnvelope() as { from: string | false }).from;
    if (!envelopeFrom)
      throw Object.assign(new Error('the sender address is not valid'), { code: 'EENVELOPE' });
    // A header's folded continuation lines start with white space.
    const lines = node
      .buildHeaders()
      .split(/\r\n(?![ \t])/)
      .filter((line) => /^(From|Reply-To):/.test(line));
    sender = { lines, envelopeFrom };
    if (senders.size >= SENDERS_MAX) senders.clear();
    senders.set(key, sender);
  }
  return sender;
}

/**
 * The same header block as `mimeNodeHeaders` for the common message, without a MimeNode per mail
 * (about 7 % of a fan-out's worker thread): a recipient whose name and address MimeNode writes
 * unchanged, an ASCII subject and header values. Null when anything needs MimeNode's encoding.
 */
export function plainHeaders(mail: MailParts, boundary: string, date: string): HeaderBlock | null {
  const to = typeof mail.to === 'string' ? { name: '', address: mail.to } : mail.to;
  const name = to.name ?? '';
  if (!PLAIN_NAME.test(name) || !PLAIN_ADDRESS.test(to.address)) return null;
  if (!PLAIN_VALUE.test(mail.subject) || !PLAIN_VALUE.test(mail.messageId)) return null;
  const lines: string[] = [];
  for (const [key, value] of Object.entries(mail.headers)) {
    if (!PLAIN_VALUE.test(value) || !/^[A-Za-z0-9-]+$/.test(key)) return null;
    lines.push(fold(`${key}: ${value}`));
  }
  const sender = senderLines(mail.from, mail.replyTo);
  const toLine = `To: ${name ? `${name} <${to.address}>` : to.address}`;
  const subject = `Subject: ${mail.subject}`;
  if (toLine.length > FOLD_AT) return null;
  lines.push(
    ...sender.lines,
    toLine,
    fold(subject),
    fold(`Message-ID: ${mail.messageId}`),
    `Date: ${date}`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/alternative;\r\n boundary="${boundary}"`,
  );
  return { headers: lines.join('\r\n'), envelope: { from: sender.envelopeFrom, to: [to.address] } };
}

const fold = (line: string): string => (line.length <= FOLD_AT ? line : foldLines(line, FOLD_AT));
