import nodemailer from 'nodemailer';
import { startMailSink } from '../../scripts/lib/mail-sink';
import type { MailSink, MailSinkOptions, RcptDecision } from '../../scripts/lib/mail-sink';

// The sink under test is self-contained (loopback SMTP + HTTP): no database or Temporal needed.

const openSinks: MailSink[] = [];

async function sinkWith(options: MailSinkOptions = {}): Promise<MailSink> {
  const sink = await startMailSink(options);
  openSinks.push(sink);
  return sink;
}

/** A fresh, unpooled transport per send so every sendMail opens its own SMTP session. */
function transportFor(sink: MailSink, auth?: { user: string; pass: string }) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port: sink.smtpPort,
    secure: false,
    ignoreTLS: true,
    auth,
    connectionTimeout: 5000,
    greetingTimeout: 5000,
    socketTimeout: 5000,
  });
}

async function sendTo(sink: MailSink, to: string, subject = 'Hello', auth?: { user: string; pass: string }) {
  const transport = transportFor(sink, auth);
  try {
    return await transport.sendMail({
      from: 'Herald <herald@example.test>',
      to,
      subject,
      text: 'plain body',
    });
  } finally {
    transport.close();
  }
}

/** Resolves with the error a promise rejects with; fails the test if it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<Error & { responseCode?: number }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { responseCode?: number };
  }
  throw new Error('expected the promise to reject');
}

afterEach(async () => {
  await Promise.all(openSinks.splice(0).map((sink) => sink.close()));
});

describe('mail sink', () => {
  it('receives a mail with HTML and text parts and exposes its fields', async () => {
    const sink = await sinkWith();
    const transport = transportFor(sink);
    await transport.sendMail({
      from: 'Herald <herald@example.test>',
      to: 'Ada Lovelace <Ada@Example.test>, bob@example.test',
      subject: 'Your report is ready',
      text: 'Hello Ada, the report is ready.',
      html: '<p>Hello <b>Ada</b>, the report is ready.</p>',
      messageId: '<report-1@herald>',
      headers: { 'X-Herald-Notification': 'n-42' },
    });
    transport.close();

    const [mail] = await sink.waitFor((all) => all.length === 1, 5000);
    expect(mail).toMatchObject({
      id: 1,
      messageId: '<report-1@herald>',
      envelopeFrom: 'herald@example.test',
      envelopeTo: ['ada@example.test', 'bob@example.test'],
      from: '"Herald" <herald@example.test>',
      to: ['ada@example.test', 'bob@example.test'],
      subject: 'Your report is ready',
      html: '<p>Hello <b>Ada</b>, the report is ready.</p>',
    });
    expect(mail?.text.trim()).toBe('Hello Ada, the report is ready.');
    expect(mail?.headers['x-herald-notification']).toBe('n-42');
    expect(mail?.headers['subject']).toBe('Your report is ready');
    expect(mail?.raw).toContain('Subject: Your report is ready');
    expect(Number.isNaN(Date.parse(mail?.receivedAt ?? ''))).toBe(false);
  });

  it('answers 421 on the first RCPT when told to, then accepts the retry', async () => {
    const seen: Array<[string, number]> = [];
    const sink = await sinkWith({
      onRcpt: (address, attempt): RcptDecision | undefined => {
        seen.push([address, attempt]);
        return attempt === 1 ? { code: 421, message: 'try later' } : undefined;
      },
    });

    const error = await rejectionOf(sendTo(sink, 'Flaky@example.test'));
    expect(error.responseCode).toBe(421);
    expect(sink.messages()).toHaveLength(0);

    const info = await sendTo(sink, 'flaky@example.test');
    expect(info.accepted).toEqual(['flaky@example.test']);
    expect(seen).toEqual([
      ['flaky@example.test', 1],
      ['flaky@example.test', 2],
    ]);
    await sink.waitFor((all) => all.length === 1, 5000);

    sink.clear(); // also resets the attempt counters
    expect(sink.messages()).toHaveLength(0);
    expect((await rejectionOf(sendTo(sink, 'flaky@example.test'))).responseCode).toBe(421);
  });

  it('answers 550 for a rejected recipient', async () => {
    const sink = await sinkWith({
      onRcpt: (address) =>
        address === 'nobody@example.test' ? { code: 550, message: 'no such user' } : undefined,
    });
    const error = await rejectionOf(sendTo(sink, 'nobody@example.test'));
    expect(error.responseCode).toBe(550);
    expect(error.message).toContain('no such user');
  });

  it('requires and checks credentials when auth is configured', async () => {
    const credentials = { user: 'herald', pass: 's3cret' };
    const sink = await sinkWith({ auth: credentials });
    expect(sink.url).toBe(`smtp://herald:s3cret@127.0.0.1:${sink.smtpPort}`);

    const refused = await rejectionOf(
      sendTo(sink, 'a@example.test', 'Hi', { ...credentials, pass: 'wrong' }),
    );
    expect(refused.responseCode).toBe(535);

    await sendTo(sink, 'a@example.test', 'Hi', credentials);
    await sink.waitFor((all) => all.length === 1, 5000);
  });

  it('rejects waitFor with a clear error after the timeout', async () => {
    const sink = await sinkWith();
    await expect(sink.waitFor((all) => all.length > 0, 100)).rejects.toThrow(/within 100 ms.*no messages/);
  });

  it('serves the messages over the HTTP view, HTML-escaped', async () => {
    const sink = await sinkWith({ httpPort: 0 });
    expect(sink.webUrl).toBe(`http://127.0.0.1:${sink.httpPort}`);

    const emptyPage = await (await fetch(`${sink.webUrl}/`)).text();
    expect(emptyPage).toContain('No mail yet');
    expect(emptyPage).toContain('http-equiv="refresh" content="3"');

    await sendTo(sink, 'viewer@example.test', '<b>x</b>');
    const [mail] = await sink.waitFor((all) => all.length === 1, 5000);

    const list = (await (await fetch(`${sink.webUrl}/api/messages`)).json()) as Array<
      Record<string, unknown>
    >;
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: mail?.id, subject: '<b>x</b>', envelopeTo: ['viewer@example.test'] });
    expect(list[0]).not.toHaveProperty('raw');

    const one = await fetch(`${sink.webUrl}/api/messages/${mail?.id}`);
    expect(one.status).toBe(200);
    const raw = await fetch(`${sink.webUrl}/api/messages/${mail?.id}/raw`);
    expect(raw.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await raw.text()).toBe(mail?.raw);

    const missing = await fetch(`${sink.webUrl}/api/messages/999`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'not_found' } });
    expect((await fetch(`${sink.webUrl}/nope`)).status).toBe(404);

    const page = await (await fetch(`${sink.webUrl}/`)).text();
    expect(page).toContain('&lt;b&gt;x&lt;/b&gt;');
    expect(page).not.toContain('<b>x</b>');
    expect(page).toContain(`href="/messages/${mail?.id}"`);

    const detail = await (await fetch(`${sink.webUrl}/messages/${mail?.id}`)).text();
    expect(detail).toContain('&lt;b&gt;x&lt;/b&gt;');
    expect(detail).toContain('plain body');

    const cleared = await fetch(`${sink.webUrl}/api/messages`, { method: 'DELETE' });
    expect(cleared.status).toBe(204);
    expect(sink.messages()).toHaveLength(0);
  });

  it('renders the HTML part inside a sandboxed iframe', async () => {
    const sink = await sinkWith({ httpPort: 0 });
    const transport = transportFor(sink);
    await transport.sendMail({
      from: 'herald@example.test',
      to: 'viewer@example.test',
      subject: 'Styled',
      html: '<p class="x">Hi "there" & <script>alert(1)</script></p>',
    });
    transport.close();
    const [mail] = await sink.waitFor((all) => all.length === 1, 5000);
    expect(mail?.text).toBe('');

    const detail = await (await fetch(`${sink.webUrl}/messages/${mail?.id}`)).text();
    expect(detail).toContain(
      '<iframe sandbox srcdoc="&lt;p class=&quot;x&quot;&gt;Hi &quot;there&quot; &amp; &lt;script&gt;alert(1)&lt;/script&gt;',
    );
    expect(detail).not.toContain('<script>');
  });

  it('holds the DATA reply for dataDelayMs and reports DATA start', async () => {
    const started: string[][] = [];
    const sink = await sinkWith({ dataDelayMs: 300, onDataStart: (to) => started.push(to) });
    const begin = Date.now();
    await sendTo(sink, 'Slow@example.test');
    expect(Date.now() - begin).toBeGreaterThanOrEqual(280);
    expect(started).toEqual([['slow@example.test']]);
  });

  it('keeps at most maxMessages and stores unparseable input without crashing', async () => {
    const sink = await sinkWith({ maxMessages: 2 });
    for (const subject of ['one', 'two', 'three']) await sendTo(sink, 'x@example.test', subject);
    const kept = await sink.waitFor((all) => all.some((mail) => mail.subject === 'three'), 5000);
    expect(kept.map((mail) => [mail.id, mail.subject])).toEqual([
      [2, 'two'],
      [3, 'three'],
    ]);

    // Garbage that is not an RFC 5322 message still arrives as a message.
    const transport = transportFor(sink);
    await transport.sendMail({
      envelope: { from: 'a@example.test', to: ['y@example.test'] },
      raw: 'this is not a header\r\n\r\n\u0000\u0001 binary-ish body',
    });
    transport.close();
    const [last] = (
      await sink.waitFor((all) => all.some((mail) => mail.envelopeTo[0] === 'y@example.test'))
    ).slice(-1);
    expect(last?.raw).toContain('binary-ish body');
  });

  it('closes promptly even with an idle client connected', async () => {
    const sink = await sinkWith({ httpPort: 0 });
    const pooled = nodemailer.createTransport({
      host: '127.0.0.1',
      port: sink.smtpPort,
      pool: true,
      ignoreTLS: true,
    });
    await pooled.sendMail({ from: 'a@example.test', to: 'b@example.test', subject: 'keep-alive', text: 'x' });
    const begin = Date.now();
    await sink.close();
    expect(Date.now() - begin).toBeLessThan(2000);
    pooled.close();
  });
});
