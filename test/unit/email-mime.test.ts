import { simpleParser, type ParsedMail } from 'mailparser';
import MailComposer from 'nodemailer/lib/mail-composer';
import {
  composeMail,
  mimeNodeHeaders,
  plainHeaders,
  quotedPrintable,
  type MailParts,
} from '../../activities/channels/email/mime';

/** What nodemailer's own composer makes of the same message: the reference the raw build must match. */
const byNodemailer = (mail: MailParts): Promise<Buffer> =>
  new MailComposer({
    from: mail.from,
    replyTo: mail.replyTo,
    to: mail.to,
    subject: mail.subject,
    html: mail.html,
    text: mail.text,
    messageId: mail.messageId,
    headers: mail.headers,
  })
    .compile()
    .build();

/** The parts a mail client reads, with nothing that legitimately differs (boundary, date). */
const read = (parsed: ParsedMail) => ({
  from: parsed.from?.value,
  replyTo: parsed.replyTo?.value,
  to: Array.isArray(parsed.to) ? parsed.to.map((t) => t.value) : parsed.to?.value,
  subject: parsed.subject,
  messageId: parsed.messageId,
  html: parsed.html,
  text: parsed.text,
  herald: parsed.headers.get('x-herald-delivery'),
  unsubscribe: parsed.headerLines.find((h) => h.key === 'list-unsubscribe')?.line,
});

const base: MailParts = {
  from: 'Herald <noreply@herald.local>',
  to: { name: 'Ada Lovelace', address: 'ada@example.com' },
  subject: 'Ticket 42 assigned',
  html: '<p>Hello</p>\n',
  text: 'Hello\n',
  messageId: '<n1.abc.email@herald.local>',
  headers: { 'X-Herald-Notification': 'n1', 'X-Herald-Delivery': 'd1' },
};

/** Name, change from `base`, and the encoding the HTML part must get (nodemailer's rule). */
const cases: [string, Partial<MailParts>, string][] = [
  ['plain ASCII, short lines (7bit)', {}, '7bit'],
  [
    'long HTML lines with = signs (quoted-printable)',
    { html: `<table style="width:100%" data-x="a=b">${'<td class="c">cell</td>'.repeat(200)}</table>\n` },
    'quoted-printable',
  ],
  [
    'non-Latin names, subject and body (encoded words, base64)',
    {
      from: { name: 'Служба поддержки', address: 'support@acme.example' },
      replyTo: 'Zoë Ünal <zoe@acme.example>',
      to: { name: '山田 太郎', address: 'taro@例え.jp' },
      subject: 'チケット 42 が割り当てられました — 至急',
      html: `<p>${'こんにちは、世界。'.repeat(300)}</p>`,
      text: 'こんにちは\n'.repeat(50),
    },
    'base64',
  ],
  [
    'specials in a name, a quote, a comma and trailing spaces',
    {
      to: { name: 'Müller, "J." Jürgen', address: 'j@example.com' },
      text: 'line with trailing spaces   \n.a line starting with a dot\n\n',
    },
    '7bit',
  ],
  [
    'a long unsubscribe header and a long mostly-ASCII subject',
    {
      subject: `Réunion ${'très importante '.repeat(12)}`,
      headers: {
        ...base.headers,
        'List-Unsubscribe': `<https://herald.example/v1/unsubscribe/${'t'.repeat(180)}>`,
        'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      },
    },
    '7bit',
  ],
];

describe('composeMail: the raw message Herald hands nodemailer', () => {
  test.each(cases)('reads like nodemailer’s own composition: %s', async (_name, change, encoding) => {
    const mail = { ...base, ...change };
    const ours = composeMail(mail);
    expect(ours.raw.toString()).toContain(
      `Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: ${encoding}\r\n`,
    );
    const [parsedOurs, parsedTheirs] = await Promise.all([
      simpleParser(ours.raw),
      simpleParser(await byNodemailer(mail)),
    ]);
    expect(read(parsedOurs)).toEqual(read(parsedTheirs));
    expect(read(parsedOurs).html).toBeTruthy();
    expect(read(parsedOurs).text).toBeTruthy();
  });

  test('the envelope is what nodemailer derives: bare addresses, the domain in punycode', () => {
    const { envelope } = composeMail({ ...base, to: { name: 'T', address: 'taro@例え.jp' } });
    expect(envelope).toEqual({ from: 'noreply@herald.local', to: ['taro@xn--r8jz45g.jp'] });
  });

  test('no data can add a header: line breaks in a name or subject stay inside their header', async () => {
    const parsed = await simpleParser(
      composeMail({
        ...base,
        to: { name: 'Eve\r\nBcc: victim@example.com', address: 'eve@example.com' },
        subject: 'hi\r\nX-Injected: yes',
      }).raw,
    );
    expect(parsed.headers.has('bcc')).toBe(false);
    expect(parsed.headers.has('x-injected')).toBe(false);
  });

  test('a body that spells out a boundary-like line does not split the message', async () => {
    const first = composeMail(base).raw.toString();
    const boundary = /boundary="([^"]+)"/.exec(first)![1]!;
    // The next message's boundary differs, and content is checked against its own.
    const html = `<p>--${boundary}</p>\n--${boundary}--\n`;
    const parsed = await simpleParser(composeMail({ ...base, html }).raw);
    expect(parsed.html).toBe(html);
    expect(parsed.text).toBe('Hello\n');
  });

  test('an address nodemailer cannot use is refused as an envelope error', () => {
    expect(() => composeMail({ ...base, to: '' })).toThrow(
      expect.objectContaining({ code: 'EENVELOPE' }) as Error,
    );
  });

  test('no line passes SMTP’s 998 characters, however long the HTML’s lines', () => {
    const raw = composeMail({
      ...base,
      html: `<p>${'x'.repeat(5000)}</p>\n`,
    }).raw.toString();
    const longest = Math.max(...raw.split(/\r?\n/).map((line) => line.length));
    expect(longest).toBeLessThanOrEqual(78);
  });

  test('quoted-printable: any text decodes back to itself, lines within 76 characters', async () => {
    // Seeded, so a failure reproduces: spaces and tabs before line ends, `=`, every kind of line
    // break, multi-byte characters at soft-break positions.
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const alphabet = ['a', 'Z', ' ', '\t', '=', '.', 'é', '€', '日', '😀', '~', '<td>'];
    const breaks = ['\n', '\r\n', '\r'];
    for (let round = 0; round < 200; round++) {
      const length = Math.floor(random() * 400);
      let text = '';
      // Lines of about 100 characters: most need soft breaks.
      for (let i = 0; i < length; i++)
        text +=
          random() < 0.01
            ? breaks[Math.floor(random() * breaks.length)]
            : alphabet[Math.floor(random() * alphabet.length)];
      const encoded = quotedPrintable(text).toString('latin1');
      expect(Math.max(...encoded.split('\r\n').map((line) => line.length))).toBeLessThanOrEqual(76);
      expect(/[ \t]\r\n|[ \t]$/.test(encoded)).toBe(false);
      const parsed = await simpleParser(
        `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${encoded}`,
      );
      // Line breaks of any kind arrive as one kind; mailparser reads them as LF.
      expect(parsed.text ?? '').toBe(text.replace(/\r\n|\r/g, '\n'));
    }
  });

  describe('the header fast path writes exactly what MimeNode writes', () => {
    const date = 'Wed, 02 Dec 2026 04:00:00 +0000';
    const boundary = '--_Herald-0123456789abcdef-1';
    const simple: [string, Partial<MailParts>][] = [
      ['the bench and fan-out shape', {}],
      ['no recipient name', { to: 'ada@example.com' }],
      ['a name with digits and underscores', { to: { name: 'Bench_42 x', address: 'bench-42@example.com' } }],
      [
        'a sender with a name and a reply-to',
        { from: 'Acme Alerts <alerts@a.example>', replyTo: 'help@a.example' },
      ],
      [
        'a long subject and a long unsubscribe link (folded)',
        {
          subject: `Ticket 42 assigned ${'and more words '.repeat(10)}end`,
          headers: {
            'X-Herald-Notification': 'n1',
            'List-Unsubscribe': `<https://herald.example/v1/unsubscribe/${'t'.repeat(180)}>`,
            'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
          },
        },
      ],
    ];
    test.each(simple)('%s', (_name, change) => {
      const mail = { ...base, ...change };
      const fast = plainHeaders(mail, boundary, date);
      expect(fast).not.toBeNull();
      expect(fast).toEqual(mimeNodeHeaders(mail, boundary, date));
    });

    const encoded: [string, Partial<MailParts>][] = [
      ['a non-ASCII name', { to: { name: 'Zoë', address: 'z@example.com' } }],
      ['a name with a comma', { to: { name: 'Lovelace, Ada', address: 'ada@example.com' } }],
      ['an IDN domain', { to: { name: 'T', address: 'taro@例え.jp' } }],
      ['an upper-case domain', { to: { name: 'A', address: 'ada@Example.COM' } }],
      ['a non-ASCII subject', { subject: 'Réunion' }],
      ['a subject that reads as an encoded word', { subject: 'look =?utf-8?q?x?= here' }],
      ['a long name and address', { to: { name: 'A '.repeat(30), address: 'someone@example.com' } }],
    ];
    test.each(encoded)('leaves to MimeNode: %s', (_name, change) => {
      expect(plainHeaders({ ...base, ...change }, boundary, date)).toBeNull();
    });
  });
});
