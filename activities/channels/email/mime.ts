/**
 * One email as the bytes nodemailer sends (`raw`), built without its streaming composer.
 *
 * Nodemailer's composer pipes each part through encoder streams and hands the socket one write per
 * chunk; in a fan-out that was about a fifth of the worker's main thread plus most of its socket
 * writes. Here the headers still come from nodemailer's MimeNode (address, RFC 2047 and folding
 * rules stay nodemailer's), the two text parts are encoded with its quoted-printable and base64
 * functions, picked by the same rule it uses, and the whole message is one Buffer: one chunk
 * through SMTP's dot-stuffing and one socket write.
 */
import { randomBytes } from 'node:crypto';
import * as base64 from 'nodemailer/lib/base64';
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
function encodePart(body: string): { encoding: string; content: Buffer } {
  const plain = !NOT_PLAIN.test(body);
  if (plain && !LONG_LINE.test(body))
    return { encoding: '7bit', content: Buffer.from(body.replace(LINE_BREAK, '\r\n'), 'latin1') };
  // Counting letters is the costly part: plain ASCII (most HTML) is Latin by definition.
  if (plain || mostlyLatin(body)) return { encoding: 'quoted-printable', content: quotedPrintable(body) };
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

/**
 * RFC 2045 quoted-printable of text in one pass over its UTF-8 bytes, straight into a Buffer (the
 * same encoding as nodemailer's encoder and wrap, without the intermediate strings): printable
 * ASCII but `=` stays as is, whitespace before a line end is escaped, a line break of any kind is
 * CRLF, and a soft break `=` CRLF keeps every line within 76 characters.
 */
export function quotedPrintable(text: string): Buffer {
  const input = Buffer.from(text, 'utf8');
  const length = input.length;
  // Worst case: every byte escaped (3) plus a soft break (3) per 25 escaped bytes.
  const output = Buffer.allocUnsafe(length * 3 + Math.ceil((length * 3) / QP_LINE) * 3 + 3);
  let out = 0;
  let column = 0;
  for (let i = 0; i < length; i++) {
    const byte = input[i]!;
    if (byte === 0x0d || byte === 0x0a) {
      if (byte === 0x0d && input[i + 1] === 0x0a) i++;
      output[out++] = 0x0d;
      output[out++] = 0x0a;
      column = 0;
      continue;
    }
    const next = input[i + 1];
    const atLineEnd = next === undefined || next === 0x0d || next === 0x0a;
    const literal =
      (byte >= 0x21 && byte <= 0x7e && byte !== 0x3d) || ((byte === 0x20 || byte === 0x09) && !atLineEnd);
    const width = literal ? 1 : 3;
    // The last character of a line may take the 76th column; others leave it to a soft break.
    if (column + width > (atLineEnd ? QP_LINE + 1 : QP_LINE)) {
      output[out++] = 0x3d;
      output[out++] = 0x0d;
      output[out++] = 0x0a;
      column = 0;
    }
    if (literal) {
      output[out++] = byte;
    } else {
      output[out++] = 0x3d;
      output[out++] = HEX[byte >> 4]!;
      output[out++] = HEX[byte & 0x0f]!;
    }
    column += width;
  }
  return output.subarray(0, out);
}

export function composeMail(mail: MailParts): ComposedMail {
  const text = encodePart(mail.text);
  const html = encodePart(mail.html);
  let boundary: string;
  do {
    boundaryCount = (boundaryCount + 1) % Number.MAX_SAFE_INTEGER;
    boundary = `--_Herald-${BOUNDARY_BASE}-${boundaryCount.toString(16)}`;
    // A delimiter must not occur in a part; the random base makes this next to impossible.
  } while (text.content.includes(boundary) || html.content.includes(boundary));
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
  } as unknown as Record<string, string>);
  const envelope = root.getEnvelope() as { from: string | false; to: string[] };
  if (!envelope.from)
    throw Object.assign(new Error('the sender address is not valid'), { code: 'EENVELOPE' });
  if (envelope.to.length === 0)
    throw Object.assign(new Error('the recipient address is not valid'), { code: 'EENVELOPE' });
  const head = (part: string, encoding: string) =>
    `--${boundary}\r\nContent-Type: text/${part}; charset=utf-8\r\nContent-Transfer-Encoding: ${encoding}\r\n\r\n`;
  const raw = Buffer.concat([
    Buffer.from(`${root.buildHeaders()}\r\n\r\n${head('plain', text.encoding)}`, 'utf8'),
    text.content,
    Buffer.from(`\r\n${head('html', html.encoding)}`, 'latin1'),
    html.content,
    Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1'),
  ]);
  return { envelope: { from: envelope.from, to: envelope.to }, raw };
}
