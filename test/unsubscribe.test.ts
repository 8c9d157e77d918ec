import { randomBytes } from 'node:crypto';
import { decodeSecretKey } from '../common/secret-box';
import {
  signUnsubscribeToken,
  unsubscribeKey,
  verifyUnsubscribeToken,
  type UnsubscribeClaims,
} from '../common/unsubscribe-token';
import type { ReceivedMail } from '../scripts/lib/mail-sink';
import { putTenantSetting } from '../db/queries/tenant-settings';
import { createTestTenant, TEST_SECRET_KEY } from './support/auth';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';
import {
  ACCOUNT_SID,
  AUTH_TOKEN,
  PUBLIC_BASE_URL,
  SMS_FROM,
  TwilioDouble,
  twilioError,
} from './support/twilio-double';

/**
 * Issue 9 §7: one-click unsubscribe (RFC 8058, RFC 2369) through the real API, worker, SMTP sink and
 * Twilio double. The headers are read from each message's raw source, as a mail client reads them.
 */

const PREFERENCES_URL = 'https://app.example.com/settings/notifications';
const ONE_CLICK = 'List-Unsubscribe=One-Click';
const key = unsubscribeKey(decodeSecretKey(TEST_SECRET_KEY));
const job = { jobName: 'nightly backup', error: 'disk full' };
const phone = () => `+2637${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;

/** The raw header block, unfolded (RFC 5322 §2.2.3), as lower-cased name → every value. */
function rawHeaders(mail: ReceivedMail): Map<string, string[]> {
  const end = mail.raw.search(/\r?\n\r?\n/);
  const block = mail.raw.slice(0, end).replace(/\r?\n[ \t]+/g, ' ');
  const headers = new Map<string, string[]>();
  for (const line of block.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  return headers;
}

/** The URL in `List-Unsubscribe: <…>`; fails unless the message has exactly the two RFC 8058 headers. */
function unsubscribeHeader(mail: ReceivedMail): string {
  const headers = rawHeaders(mail);
  expect(headers.get('list-unsubscribe-post')).toEqual([ONE_CLICK]);
  const values = headers.get('list-unsubscribe') ?? [];
  expect(values).toHaveLength(1);
  const match = /^<(https:\/\/[^>]+)>$/.exec(values[0]!);
  expect(match).not.toBeNull();
  return match![1]!;
}

const tokenOf = (url: string) => url.slice(url.lastIndexOf('/') + 1);

describe('unsubscribe tokens', () => {
  const claims: UnsubscribeClaims = {
    tenantId: 'acme',
    subject: { kind: 'recipient', externalId: 'tech-42' },
    category: 'jobs',
  };

  it('verify under the key that signed them, carrying a version byte; nothing else verifies', () => {
    const token = signUnsubscribeToken(key, claims);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(token, 'base64url')[0]).toBe(1);
    expect(verifyUnsubscribeToken(key, token)).toEqual(claims);
    expect(verifyUnsubscribeToken(randomBytes(32), token)).toBeNull();
    const bytes = Buffer.from(token, 'base64url');
    for (const at of [0, 1, 5, bytes.length - 1]) {
      const flipped = Buffer.from(bytes);
      flipped[at] = flipped[at]! ^ 1;
      expect(verifyUnsubscribeToken(key, flipped.toString('base64url'))).toBeNull();
    }
    for (const garbage of ['', 'x', 'not a token', '%00', 'A'.repeat(2000), token.slice(0, -2)])
      expect(verifyUnsubscribeToken(key, garbage)).toBeNull();
  });

  it('keep raw addresses lowercased, so one address is one entry', () => {
    const token = signUnsubscribeToken(key, {
      ...claims,
      subject: { kind: 'address', address: 'Ops@Example.COM' },
    });
    expect(verifyUnsubscribeToken(key, token)?.subject).toEqual({
      kind: 'address',
      address: 'ops@example.com',
    });
  });
});

describe('one-click unsubscribe, end to end', () => {
  const twilio = new TwilioDouble();
  let stack: Stack;

  beforeAll(async () => {
    await twilio.start();
    stack = await startStack({
      channelEnv: {
        PUBLIC_BASE_URL,
        HERALD_SECRET_KEY: TEST_SECRET_KEY,
        TWILIO_ACCOUNT_SID: ACCOUNT_SID,
        TWILIO_AUTH_TOKEN: AUTH_TOKEN,
        TWILIO_FROM: SMS_FROM,
        TWILIO_API_BASE_URL: twilio.url,
      },
      apiEnv: { PUBLIC_BASE_URL, PREFERENCES_URL },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await twilio.close();
  });

  /** The public link as this test reaches it: the API on loopback instead of PUBLIC_BASE_URL. */
  const local = (url: string) => {
    expect(url.startsWith(`${PUBLIC_BASE_URL}/v1/unsubscribe/`)).toBe(true);
    return url.replace(PUBLIC_BASE_URL, stack.baseUrl);
  };

  /** What a mail provider sends (RFC 8058 §3.2): no key, no cookie, a form body. */
  const oneClick = (url: string, body = ONE_CLICK, contentType = 'application/x-www-form-urlencoded') =>
    fetch(local(url), { method: 'POST', headers: { 'content-type': contentType }, body });

  async function person(fields: Record<string, unknown> = {}): Promise<{ id: string; email: string }> {
    const id = uniq('unsub');
    const email = `${id}@example.com`;
    const created = await stack.api('PUT', `/v1/recipients/${id}`, { name: 'Rudo', email, ...fields });
    expect(created.status).toBe(201);
    return { id, email };
  }

  /** Sends and waits; returns the notification id and its deliveries by channel (one recipient). */
  async function send(body: Record<string, unknown>, apiKey?: string) {
    const headers: Record<string, string> = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
    const created = await stack.api(
      'POST',
      '/v1/notifications',
      { event: 'job.failed', data: job, ...body },
      headers,
    );
    expect(created.status).toBe(202);
    const id: string = created.body.id;
    const view = apiKey ? await waitAs(id, headers) : await waitForNotification(stack, id);
    expect(view.status).toBe('completed');
    const listed = await stack.api('GET', `/v1/deliveries?notification=${id}&limit=500`, undefined, headers);
    const byChannel: Record<string, { status: string; error: string | null; failoverFrom: string | null }> =
      Object.fromEntries(listed.body.items.map((d: { channel: string }) => [d.channel, d]));
    return { id, byChannel };
  }

  /** waitForNotification for a notification of another tenant (its own key). */
  async function waitAs(id: string, headers: Record<string, string>) {
    for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
      const { body } = await stack.api('GET', `/v1/notifications/${id}`, undefined, headers);
      if (['completed', 'failed', 'cancelled'].includes(body?.status)) return body;
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`notification ${id} did not finish`);
  }

  const mailsOf = (notificationId: string) =>
    stack.sink.messages().filter((m) => m.messageId.startsWith(`<${notificationId}.`));
  const mailOf = async (notificationId: string) =>
    (await stack.sink.waitFor((all) => all.some((m) => m.messageId.startsWith(`<${notificationId}.`))))
      .filter((m) => m.messageId.startsWith(`<${notificationId}.`))
      .at(-1)!;

  const preferences = async (id: string, apiKey?: string) =>
    (
      await stack.api(
        'GET',
        `/v1/recipients/${id}/preferences`,
        undefined,
        apiKey ? { authorization: `Bearer ${apiKey}` } : {},
      )
    ).body;

  it('puts both headers on the email, with a link to the API that the footer shows too', async () => {
    const { id } = await person();
    const sent = await send({ to: { recipients: [id] }, channels: ['email', 'inapp'] });
    const mail = await mailOf(sent.id);
    const url = unsubscribeHeader(mail);
    expect(verifyUnsubscribeToken(key, tokenOf(url))).toEqual({
      tenantId: stack.tenantId,
      subject: { kind: 'recipient', externalId: id },
      category: 'jobs',
    });
    expect(mail.html).toContain(`href="${url}"`);
    expect(mail.text).toContain(`Unsubscribe: ${url}`);
  });

  it('opts the person out of the category on email with one POST and no key; sms and in-app still go', async () => {
    const phoneNumber = phone();
    const { id } = await person({ phone: phoneNumber });
    // A group default that wants the event on email does not override an unsubscribe.
    const group = uniq('wants-jobs');
    await stack.api('PUT', `/v1/groups/${group}`, { name: `Wants ${group}` });
    await stack.api('PUT', `/v1/groups/${group}/members/${id}`);
    await stack.api('PUT', `/v1/groups/${group}/preferences`, {
      events: { 'job.failed': { enabled: true, channels: { email: true } } },
    });
    const first = await send({ to: { recipients: [id] }, channels: ['email', 'sms', 'inapp'] });
    const url = unsubscribeHeader(await mailOf(first.id));

    const answer = await oneClick(url);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ unsubscribed: true, channel: 'email', category: 'jobs' });
    // Idempotent: the provider's retry, or the person's own click, changes nothing more.
    expect((await oneClick(url)).status).toBe(200);
    expect(await preferences(id)).toEqual({ unsubscribed: { email: ['jobs'] } });

    const smsBefore = twilio.to(phoneNumber).length;
    const next = await send({
      event: 'job.partial',
      data: { jobName: 'sync', succeededCount: 3, failedCount: 1 },
      to: { recipients: [id] },
      channels: ['email', 'inapp'],
    });
    expect(next.byChannel.email).toMatchObject({
      status: 'suppressed',
      error: 'unsubscribed from category jobs',
    });
    expect(next.byChannel.inapp).toMatchObject({ status: 'sent' });
    expect(mailsOf(next.id)).toEqual([]);
    const withSms = await send({ to: { recipients: [id] }, channels: ['email', 'sms', 'inapp'] });
    expect(withSms.byChannel.email).toMatchObject({ status: 'suppressed' });
    expect(withSms.byChannel.sms).toMatchObject({ status: 'sent' });
    expect(withSms.byChannel.inapp).toMatchObject({ status: 'sent' });
    expect(twilio.to(phoneNumber)).toHaveLength(smsBefore + 1);

    // Another category still arrives by email.
    const ticket = await send({
      event: 'ticket.assigned',
      data: { ticketId: '5', title: 'Still mine' },
      to: { recipients: [id] },
      channels: ['email'],
    });
    expect(ticket.byChannel.email).toMatchObject({ status: 'sent' });
    // The delivery log's status filter finds the suppressed ones.
    const suppressed = await stack.api('GET', `/v1/deliveries?recipient=${id}&status=suppressed`);
    expect(suppressed.body.items.map((d: { notificationId: string }) => d.notificationId).sort()).toEqual(
      [next.id, withSms.id].sort(),
    );
  });

  it('puts a raw address on the suppression list; its next email of the category is suppressed', async () => {
    const address = `${uniq('raw')}@Example.com`;
    const first = await send({ to: { emails: [address] }, channels: ['email'] });
    const url = unsubscribeHeader(await mailOf(first.id));
    expect(verifyUnsubscribeToken(key, tokenOf(url))?.subject).toEqual({
      kind: 'address',
      address: address.toLowerCase(),
    });
    expect((await oneClick(url)).status).toBe(200);
    const rows = await stack.db.query(
      'SELECT address, category FROM email_suppressions WHERE tenant_id = $1 AND address = $2',
      [stack.tenantId, address.toLowerCase()],
    );
    expect(rows.rows).toEqual([{ address: address.toLowerCase(), category: 'jobs' }]);

    const next = await send({ to: { emails: [address.toUpperCase()] }, channels: ['email'] });
    expect(next.byChannel.email).toMatchObject({
      status: 'suppressed',
      error: 'unsubscribed from category jobs (suppression list)',
    });
    expect(mailsOf(next.id)).toEqual([]);
    // The list is by address: a recipient who later has that address is not mailed the category either.
    const { id } = await person({ email: address });
    const asRecipient = await send({ to: { recipients: [id] }, channels: ['email', 'inapp'] });
    expect(asRecipient.byChannel.email).toMatchObject({ status: 'suppressed' });
    expect(asRecipient.byChannel.inapp).toMatchObject({ status: 'sent' });
  });

  it('refuses a tampered or foreign token with 403 JSON, and a POST without One-Click with 400; nothing changes', async () => {
    const { id } = await person();
    const genuine = signUnsubscribeToken(key, {
      tenantId: stack.tenantId,
      subject: { kind: 'recipient', externalId: id },
      category: 'jobs',
    });
    const bytes = Buffer.from(genuine, 'base64url');
    bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0x20;
    const tampered = bytes.toString('base64url');
    const foreign = signUnsubscribeToken(randomBytes(32), {
      tenantId: stack.tenantId,
      subject: { kind: 'recipient', externalId: id },
      category: 'jobs',
    });
    const base = `${PUBLIC_BASE_URL}/v1/unsubscribe/`;
    for (const token of [tampered, foreign, 'garbage', 'A'.repeat(1500), '%E2%82']) {
      for (const answer of [
        await oneClick(`${base}${token}`),
        await fetch(local(`${base}${token}`)),
        await fetch(local(`${base}${token}/resubscribe`), { method: 'POST' }),
      ]) {
        expect([token.slice(0, 20), answer.status]).toEqual([token.slice(0, 20), 403]);
        expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
        expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('invalid_token');
      }
    }
    for (const [body, type, status, path] of [
      ['', 'application/x-www-form-urlencoded', 400, 'List-Unsubscribe'],
      ['List-Unsubscribe=Yes', 'application/x-www-form-urlencoded', 400, 'List-Unsubscribe'],
      [
        'List-Unsubscribe=One-Click&List-Unsubscribe=One-Click',
        'application/x-www-form-urlencoded',
        400,
        'List-Unsubscribe',
      ],
      ['{"List-Unsubscribe":"One-Click"}', 'application/json', 415, 'Content-Type'],
    ] as const) {
      const answer = await oneClick(`${base}${genuine}`, body, type);
      expect([body, answer.status]).toEqual([body, status]);
      const error = ((await answer.json()) as { error: { details: { path: string }[] } }).error;
      expect(error.details.map((d) => d.path)).toEqual([path]);
    }
    // No body at all (and so no type): the field is still required.
    const bare = await fetch(local(`${base}${genuine}`), { method: 'POST' });
    expect(bare.status).toBe(400);
    expect(await preferences(id)).toEqual({});
  });

  it("cannot touch another tenant: A's token changes only A's recipient, even when B has the same id", async () => {
    const tenantB = uniq('tenant-b');
    const { key: keyB } = await createTestTenant(stack.db, tenantB);
    const { id } = await person();
    const asB = { authorization: `Bearer ${keyB}` };
    expect(
      (await stack.api('PUT', `/v1/recipients/${id}`, { email: `${id}@b.example.com` }, asB)).status,
    ).toBe(201);
    const first = await send({ to: { recipients: [id] }, channels: ['email'] });
    const url = unsubscribeHeader(await mailOf(first.id));
    expect((await oneClick(url)).status).toBe(200);
    expect(await preferences(id)).toEqual({ unsubscribed: { email: ['jobs'] } });
    expect(await preferences(id, keyB)).toEqual({});
    const inB = await send({ to: { recipients: [id] }, channels: ['email'] }, keyB);
    expect(inB.byChannel.email).toMatchObject({ status: 'sent' });

    // Swapping the tenant inside A's token for B's breaks the signature.
    const claims = verifyUnsubscribeToken(key, tokenOf(url))!;
    const forged = Buffer.from(tokenOf(url), 'base64url')
      .toString('latin1')
      .replace(claims.tenantId, tenantB);
    const answer = await oneClick(
      `${PUBLIC_BASE_URL}/v1/unsubscribe/${Buffer.from(forged, 'latin1').toString('base64url')}`,
    );
    expect(answer.status).toBe(403);
    expect(await preferences(id, keyB)).toEqual({});
  });

  it('GET changes nothing and shows a form that posts One-Click, with the preferences link and a CSP', async () => {
    const { id } = await person();
    const first = await send({ to: { recipients: [id] }, channels: ['email'] });
    const url = unsubscribeHeader(await mailOf(first.id));
    for (let i = 0; i < 2; i++) {
      const shown = await fetch(local(url));
      expect(shown.status).toBe(200);
      expect(shown.headers.get('content-type')).toMatch(/^text\/html/);
      expect(shown.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(shown.headers.get('content-security-policy')).toContain("form-action 'self'");
      expect(shown.headers.get('referrer-policy')).toBe('no-referrer');
      const html = await shown.text();
      expect(html).toContain(`<form method="post" action="${tokenOf(url)}">`);
      expect(html).toContain('<input type="hidden" name="List-Unsubscribe" value="One-Click">');
      expect(html).toContain(`href="${PREFERENCES_URL}"`);
      expect(html).toContain('<strong>jobs</strong>');
    }
    expect(await preferences(id)).toEqual({});
    const again = await send({ to: { recipients: [id] }, channels: ['email'] });
    expect(again.byChannel.email).toMatchObject({ status: 'sent' });
  });

  it('escapes everything a page shows (the category, the brand name)', async () => {
    const tenantC = uniq('tenant-c');
    await createTestTenant(stack.db, tenantC);
    await putTenantSetting(stack.db, tenantC, 'brand', { name: '<b onclick="x()">Acme & Co</b>' }, null);
    const token = signUnsubscribeToken(key, {
      tenantId: tenantC,
      subject: { kind: 'address', address: 'someone@example.com' },
      category: '<script>alert(1)</script>',
    });
    const html = await (await fetch(`${stack.baseUrl}/v1/unsubscribe/${token}`)).text();
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&lt;b onclick=&quot;x()&quot;&gt;Acme &amp; Co&lt;/b&gt;');
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<b onclick');
  });

  it('resubscribes from the page: the opt-out is gone and the next email goes out', async () => {
    const { id } = await person();
    const first = await send({ to: { recipients: [id] }, channels: ['email'] });
    const url = local(unsubscribeHeader(await mailOf(first.id)));
    // The browser path: the page's button posts the form (and accepts HTML).
    const done = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: ONE_CLICK,
    });
    expect(done.status).toBe(200);
    const donePage = await done.text();
    expect(donePage).toContain('You are unsubscribed');
    const action = /<form method="post" action="([^"]+)"><button type="submit" class="link">Resubscribe/.exec(
      donePage,
    )?.[1];
    expect(action).toBe(`${tokenOf(url)}/resubscribe`);
    // GET now says so, and offers to resubscribe.
    expect(await (await fetch(url)).text()).toContain('You are unsubscribed');

    const resubscribed = await fetch(new URL(action!, url), { method: 'POST' });
    expect(resubscribed.status).toBe(200);
    const page = await resubscribed.text();
    expect(page).toContain('You are subscribed again');
    // Its "unsubscribe again" button points back at the link itself.
    const back = /<form method="post" action="([^"]+)">/.exec(page)?.[1];
    expect(new URL(back!, new URL(action!, url)).toString()).toBe(url);
    expect(await preferences(id)).toEqual({});
    const next = await send({ to: { recipients: [id] }, channels: ['email'] });
    expect(next.byChannel.email).toMatchObject({ status: 'sent' });

    // A raw address comes off the suppression list the same way.
    const address = `${uniq('raw-back')}@example.com`;
    const raw = await send({ to: { emails: [address] }, channels: ['email'] });
    const rawUrl = local(unsubscribeHeader(await mailOf(raw.id)));
    expect(
      (
        await fetch(rawUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: ONE_CLICK,
        })
      ).status,
    ).toBe(200);
    expect((await send({ to: { emails: [address] }, channels: ['email'] })).byChannel.email?.status).toBe(
      'suppressed',
    );
    expect((await fetch(`${rawUrl}/resubscribe`, { method: 'POST' })).status).toBe(200);
    expect((await send({ to: { emails: [address] }, channels: ['email'] })).byChannel.email?.status).toBe(
      'sent',
    );
  });

  it('an unsubscribe: false event still reaches an opted-out person, with no header and no footer link', async () => {
    const { id, email } = await person();
    // Unsubscribed from the event's own category, and its address on the suppression list too.
    await stack.api('PUT', `/v1/recipients/${id}/preferences`, { unsubscribed: { email: ['security'] } });
    const token = signUnsubscribeToken(key, {
      tenantId: stack.tenantId,
      subject: { kind: 'address', address: email },
      category: 'security',
    });
    expect((await oneClick(`${PUBLIC_BASE_URL}/v1/unsubscribe/${token}`)).status).toBe(200);
    const sent = await send({
      event: 'security.alert',
      data: { action: 'Password changed', occurredAt: '2025-03-22 14:05' },
      to: { recipients: [id] },
      channels: ['email'],
    });
    expect(sent.byChannel.email).toMatchObject({ status: 'sent' });
    const mail = await mailOf(sent.id);
    const headers = rawHeaders(mail);
    expect(headers.has('list-unsubscribe')).toBe(false);
    expect(headers.has('list-unsubscribe-post')).toBe(false);
    expect(mail.text).not.toContain('/v1/unsubscribe/');
    expect(mail.html).not.toContain('/v1/unsubscribe/');
  });

  it('a critical notification carries no header, and reaches a person unsubscribed from its category', async () => {
    const { id } = await person();
    await stack.api('PUT', `/v1/recipients/${id}/preferences`, { unsubscribed: { email: ['jobs'] } });
    const normal = await send({ to: { recipients: [id] }, channels: ['email'] });
    expect(normal.byChannel.email).toMatchObject({ status: 'suppressed' });
    const critical = await send({ to: { recipients: [id] }, priority: 'critical', channels: ['email'] });
    expect(critical.byChannel.email).toMatchObject({ status: 'sent' });
    const mail = await mailOf(critical.id);
    expect(rawHeaders(mail).has('list-unsubscribe')).toBe(false);
    expect(mail.html).not.toContain('/v1/unsubscribe/');
  });

  it('a suppressed link of a failover chain is passed over like an unusable one', async () => {
    const phoneNumber = phone();
    const { id } = await person({ phone: phoneNumber, failover: ['sms', 'email', 'inapp'] });
    await stack.api('PUT', `/v1/recipients/${id}/preferences`, { unsubscribed: { email: ['jobs'] } });
    twilio.script(phoneNumber, {
      status: 400,
      body: twilioError(21211, "The 'To' number is not a valid phone number.", 400),
    });
    const sent = await send({ to: { recipients: [id] }, channels: ['sms', 'email', 'inapp'] });
    expect(sent.byChannel.sms).toMatchObject({ status: 'failed' });
    expect(sent.byChannel.email).toMatchObject({
      status: 'suppressed',
      error: 'unsubscribed from category jobs',
    });
    expect(sent.byChannel.inapp).toMatchObject({ status: 'sent', failoverFrom: 'sms' });
    expect(mailsOf(sent.id)).toEqual([]);
  });

  it('shows the unsubscribes in the preferences API, which can also undo them', async () => {
    const { id } = await person();
    await stack.api('PUT', `/v1/recipients/${id}/preferences`, { unsubscribed: { email: ['jobs'] } });
    expect((await send({ to: { recipients: [id] }, channels: ['email'] })).byChannel.email?.status).toBe(
      'suppressed',
    );
    expect((await stack.api('PUT', `/v1/recipients/${id}/preferences`, {})).status).toBe(200);
    expect((await send({ to: { recipients: [id] }, channels: ['email'] })).byChannel.email?.status).toBe(
      'sent',
    );
    const group = uniq('nogroupunsub');
    await stack.api('PUT', `/v1/groups/${group}`, { name: `G ${group}` });
    const refused = await stack.api('PUT', `/v1/groups/${group}/preferences`, {
      unsubscribed: { email: ['jobs'] },
    });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain('unsubscribed');
  });
});
