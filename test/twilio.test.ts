import { randomBytes } from 'node:crypto';
import {
  classifyTwilioError,
  createTwilioChannel,
  MAX_BODY_CHARACTERS,
  parseRetryAfter,
  type TwilioMessages,
} from '../activities/channels/twilio';
import type { DeliveryTarget } from '../activities/channels/types';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';
import {
  ACCOUNT_SID,
  AUTH_TOKEN,
  CALLBACK_URL,
  PUBLIC_BASE_URL,
  SMS_FROM,
  TwilioDouble,
  twilioSignature,
  twilioError,
  WHATSAPP_FROM,
} from './support/twilio-double';

const sign = twilioSignature;

/** A fresh E.164 number per test, so the double's records never mix between tests. */
const phone = () => `+2637${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;

describe('SMS and WhatsApp through Twilio', () => {
  const twilioApi = new TwilioDouble();
  let stack: Stack;

  beforeAll(async () => {
    await twilioApi.start();
    stack = await startStack({
      channelEnv: {
        TWILIO_ACCOUNT_SID: ACCOUNT_SID,
        TWILIO_AUTH_TOKEN: AUTH_TOKEN,
        TWILIO_FROM: SMS_FROM,
        TWILIO_WHATSAPP_FROM: WHATSAPP_FROM,
        TWILIO_API_BASE_URL: twilioApi.url,
        PUBLIC_BASE_URL,
      },
      apiEnv: { TWILIO_AUTH_TOKEN: AUTH_TOKEN, PUBLIC_BASE_URL },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await twilioApi.close();
  });

  async function createRecipient(fields: { phone?: string; whatsapp?: string }) {
    const id = uniq('tech');
    const created = await stack.api('PUT', `/v1/recipients/${id}`, { name: 'Tendai', ...fields });
    expect(created.status).toBe(201);
    return id;
  }

  async function notify(to: Record<string, string[]>, channels: string[]) {
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to,
      channels,
      data: { ticketId: '123', title: 'Printer & scanner down', priority: 'high' },
    });
    expect(created.status).toBe(202);
    const view = await waitForNotification(stack, created.body.id);
    return { id: created.body.id as string, view, delivery: view.recipients[0].deliveries[0] };
  }

  it('sends an SMS to a recipient with To/From/Body, Basic auth and a status callback', async () => {
    const number = phone();
    const recipient = await createRecipient({ phone: number });
    const { view, delivery } = await notify({ recipients: [recipient] }, ['sms']);

    expect(view.status).toBe('completed');
    const requests = twilioApi.to(number);
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request!.authorization).toBe(
      `Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64')}`,
    );
    expect(request!.contentType).toMatch(/^application\/x-www-form-urlencoded/);
    expect(request!.fields).toEqual({
      To: number,
      From: SMS_FROM,
      Body: 'Herald Test: Ticket #123 Printer & scanner down assigned to you, priority high.',
      StatusCallback: CALLBACK_URL,
    });
    expect(delivery).toMatchObject({
      channel: 'sms',
      address: number,
      status: 'sent',
      attempts: 1,
      error: null,
    });
    expect(delivery.providerMessageId).toMatch(/^SM[0-9a-f]{32}$/);
  });

  it('sends WhatsApp with whatsapp: on both To and From', async () => {
    const number = phone();
    const recipient = await createRecipient({ whatsapp: number });
    const { delivery } = await notify({ recipients: [recipient] }, ['whatsapp']);

    expect(delivery).toMatchObject({ channel: 'whatsapp', status: 'sent', attempts: 1 });
    expect(twilioApi.to(`whatsapp:${number}`).map((r) => r.fields)).toEqual([
      {
        To: `whatsapp:${number}`,
        From: `whatsapp:${WHATSAPP_FROM}`,
        Body: 'Herald Test: Ticket #123 Printer & scanner down assigned to you, priority high.',
        StatusCallback: CALLBACK_URL,
      },
    ]);
    expect(twilioApi.to(number)).toHaveLength(0);
  });

  it('sends to a raw number given in to.phones', async () => {
    const number = phone();
    const { view, delivery } = await notify({ phones: [number] }, ['sms']);

    expect(view.recipients[0].recipientKey).toBe(`phone:${number}`);
    expect(delivery).toMatchObject({ status: 'sent', attempts: 1 });
    expect(twilioApi.to(number).map((r) => r.fields.From)).toEqual([SMS_FROM]);
  });

  it('fails an invalid number (Twilio 21211) at once, without a retry', async () => {
    const number = phone();
    twilioApi.script(number, {
      status: 400,
      body: twilioError(21211, `The 'To' number ${number} is not a valid phone number.`, 400),
    });
    const { view, delivery } = await notify({ phones: [number] }, ['sms']);

    expect(view.status).toBe('failed');
    expect(delivery).toMatchObject({ status: 'failed', attempts: 1, providerMessageId: null });
    expect(delivery.error).toBe(`Twilio 21211: The 'To' number ${number} is not a valid phone number.`);
    expect(twilioApi.to(number)).toHaveLength(1);
  });

  it('retries a 429 after its Retry-After and then sends once', async () => {
    const number = phone();
    twilioApi.script(number, {
      status: 429,
      headers: { 'Retry-After': '2' },
      body: twilioError(20429, 'Too Many Requests', 429),
    });
    const { view, delivery } = await notify({ phones: [number] }, ['sms']);

    expect(view.status).toBe('completed');
    expect(delivery).toMatchObject({ status: 'sent', attempts: 2, error: null });
    const requests = twilioApi.to(number);
    expect(requests).toHaveLength(2);
    // The retry waited for Retry-After (2 s), longer than the test's retry policy would have (200 ms,
    // which the Temporal dev server stretches to about 1 s).
    expect(requests[1]!.at - requests[0]!.at).toBeGreaterThanOrEqual(1900);
  });

  describe('status callbacks', () => {
    async function sentMessage() {
      const { id, delivery } = await notify({ phones: [phone()] }, ['sms']);
      expect(delivery.status).toBe('sent');
      return { id, sid: delivery.providerMessageId as string };
    }

    const callback = (params: Record<string, string>, signature?: string) =>
      fetch(`${stack.baseUrl}/v1/providers/twilio/status`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          ...(signature === undefined ? {} : { 'x-twilio-signature': signature }),
        },
        body: new URLSearchParams(params).toString(),
      });

    const statusParams = (sid: string, status: string, extra: Record<string, string> = {}) => ({
      AccountSid: ACCOUNT_SID,
      ApiVersion: '2010-04-01',
      MessageSid: sid,
      SmsSid: sid,
      MessageStatus: status,
      SmsStatus: status,
      From: SMS_FROM,
      To: '+263771234567',
      ...extra,
    });

    async function deliveryOf(notificationId: string) {
      const { body } = await stack.api('GET', `/v1/notifications/${notificationId}`);
      const delivery = body.recipients[0].deliveries[0];
      const row = await stack.db.query<{ provider_status: string | null }>(
        'SELECT provider_status FROM deliveries WHERE provider_message_id = $1',
        [delivery.providerMessageId],
      );
      return { ...delivery, providerStatus: row.rows[0]?.provider_status ?? null };
    }

    it('refuses a missing or wrong signature with 403 and changes nothing', async () => {
      const { id, sid } = await sentMessage();
      const before = await deliveryOf(id);
      const params = statusParams(sid, 'delivered');

      const unsigned = await callback(params);
      expect(unsigned.status).toBe(403);
      expect(await unsigned.json()).toMatchObject({ error: { code: 'invalid_signature' } });
      // Signed with another token, and signed over the loopback URL instead of the public one.
      expect((await callback(params, sign(CALLBACK_URL, params, 'not-the-token'))).status).toBe(403);
      expect(
        (await callback(params, sign(`${stack.baseUrl}/v1/providers/twilio/status`, params))).status,
      ).toBe(403);
      // A valid signature for other parameters does not cover these.
      expect((await callback(params, sign(CALLBACK_URL, { ...params, MessageStatus: 'sent' }))).status).toBe(
        403,
      );

      expect(await deliveryOf(id)).toEqual(before);
      expect(before).toMatchObject({ status: 'sent', providerStatus: null });
    });

    it('applies a signed delivered callback, ignores a late sent, and a replay changes nothing', async () => {
      const { id, sid } = await sentMessage();

      const delivered = statusParams(sid, 'delivered');
      const first = await callback(delivered, sign(CALLBACK_URL, delivered));
      expect(first.status).toBe(204);
      const afterDelivered = await deliveryOf(id);
      expect(afterDelivered).toMatchObject({ status: 'delivered', providerStatus: 'delivered', error: null });

      const lateSent = statusParams(sid, 'sent');
      expect((await callback(lateSent, sign(CALLBACK_URL, lateSent))).status).toBe(204);
      expect(await deliveryOf(id)).toEqual(afterDelivered);

      const replay = await callback(delivered, sign(CALLBACK_URL, delivered));
      expect(replay.status).toBe(204);
      const afterReplay = await deliveryOf(id);
      expect(afterReplay).toEqual(afterDelivered);
      expect(afterReplay.updatedAt).toBe(afterDelivered.updatedAt);
    });

    it('marks an undelivered message failed with its error code, and nothing moves it after that', async () => {
      const { id, sid } = await sentMessage();

      const sent = statusParams(sid, 'sent');
      expect((await callback(sent, sign(CALLBACK_URL, sent))).status).toBe(204);
      expect(await deliveryOf(id)).toMatchObject({ status: 'sent', providerStatus: 'sent' });

      const undelivered = statusParams(sid, 'undelivered', { ErrorCode: '30003' });
      expect((await callback(undelivered, sign(CALLBACK_URL, undelivered))).status).toBe(204);
      const failed = await deliveryOf(id);
      expect(failed).toMatchObject({ status: 'failed', providerStatus: 'undelivered' });
      expect(failed.error).toBe('undelivered (error 30003)');

      const lateDelivered = statusParams(sid, 'delivered');
      expect((await callback(lateDelivered, sign(CALLBACK_URL, lateDelivered))).status).toBe(204);
      expect(await deliveryOf(id)).toEqual(failed);
    });

    it('ends delivered however concurrent callbacks interleave', async () => {
      const { id, sid } = await sentMessage();
      const statuses = ['queued', 'sending', 'sent', 'delivered', 'sent', 'sending', 'queued', 'sent'];
      const responses = await Promise.all(
        statuses.map((status) => {
          const params = statusParams(sid, status);
          return callback(params, sign(CALLBACK_URL, params));
        }),
      );
      expect(responses.map((r) => r.status)).toEqual(statuses.map(() => 204));
      expect(await deliveryOf(id)).toMatchObject({ status: 'delivered', providerStatus: 'delivered' });
    });

    it('keeps callbacks that arrive before the send stored the SID, and applies them when it is stored', async () => {
      // Twilio may call back before its answer to the send reaches the worker: the SID is not stored yet.
      const number = phone();
      const sid = `SM${randomBytes(16).toString('hex')}`;
      for (const status of ['sent', 'delivered', 'sent', 'delivered']) {
        const params = statusParams(sid, status);
        expect((await callback(params, sign(CALLBACK_URL, params))).status).toBe(204);
      }
      twilioApi.script(number, { status: 201, body: { sid, status: 'queued', to: number } });

      const { id, delivery } = await notify({ phones: [number] }, ['sms']);
      expect(delivery.providerMessageId).toBe(sid);
      expect(await deliveryOf(id)).toMatchObject({ status: 'delivered', providerStatus: 'delivered' });
      // Applied once and forgotten; a late `sent` still moves nothing back.
      const left = await stack.db.query(
        'SELECT 1 FROM pending_provider_statuses WHERE provider_message_id = $1',
        [sid],
      );
      expect(left.rowCount).toBe(0);
      const lateSent = statusParams(sid, 'sent');
      expect((await callback(lateSent, sign(CALLBACK_URL, lateSent))).status).toBe(204);
      expect(await deliveryOf(id)).toMatchObject({ status: 'delivered', providerStatus: 'delivered' });
    });

    it('an early failure callback ends the delivery failed with its error once the SID is stored', async () => {
      const number = phone();
      const sid = `SM${randomBytes(16).toString('hex')}`;
      const undelivered = statusParams(sid, 'undelivered', { ErrorCode: '30003' });
      expect((await callback(undelivered, sign(CALLBACK_URL, undelivered))).status).toBe(204);
      twilioApi.script(number, { status: 201, body: { sid, status: 'queued', to: number } });

      const { id } = await notify({ phones: [number] }, ['sms']);
      expect(await deliveryOf(id)).toMatchObject({
        status: 'failed',
        providerStatus: 'undelivered',
        error: 'undelivered (error 30003)',
      });
    });

    it('answers a signed callback without MessageSid with 400', async () => {
      const params = { MessageStatus: 'delivered' };
      const response = await callback(params, sign(CALLBACK_URL, params));
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code: 'validation_failed' } });
    });
  });
});

describe('the status callback without Twilio settings', () => {
  it('answers 503 naming the missing variable', async () => {
    const bare = await startStack({ worker: false, apiEnv: { PUBLIC_BASE_URL } });
    try {
      const response = await bare.api(
        'POST',
        '/v1/providers/twilio/status',
        'MessageSid=SM1&MessageStatus=sent',
        {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': 'anything',
        },
      );
      expect(response.status).toBe(503);
      expect(response.body.error).toMatchObject({ code: 'not_configured' });
      expect(response.body.error.message).toContain('TWILIO_AUTH_TOKEN');
    } finally {
      await bare.close();
    }
  });
});

describe('the Twilio channel against a fake client', () => {
  const target: DeliveryTarget = {
    deliveryId: '1',
    notificationId: '00000000-0000-4000-8000-000000000000',
    tenantId: 'default',
    event: 'test_email',
    priority: 'normal',
    channel: 'sms',
    recipientKey: 'phone:+263771234567',
    externalId: null,
    address: '+263771234567',
    recipientName: null,
    data: {},
  };

  function fakeClient() {
    const calls: unknown[] = [];
    const client: TwilioMessages = {
      messages: {
        create: async (params) => {
          calls.push(params);
          return { sid: 'SM00000000000000000000000000000000' };
        },
      },
    };
    return { client, calls };
  }

  it(`refuses a body over ${MAX_BODY_CHARACTERS} characters before calling Twilio`, async () => {
    const { client, calls } = fakeClient();
    const channel = createTwilioChannel({ name: 'sms', client, from: SMS_FROM });
    const error = await channel.send(target, 'x'.repeat(MAX_BODY_CHARACTERS + 1)).catch((e: unknown) => e);
    expect(channel.classify(error)).toMatchObject({ kind: 'permanent' });
    expect(calls).toHaveLength(0);
    await channel.send(target, 'é'.repeat(MAX_BODY_CHARACTERS));
    expect(calls).toHaveLength(1);
  });

  it('classifies Twilio answers: listed codes and 4xx permanent, 429/5xx and the network transient', () => {
    const rest = (status: number, code?: number) => Object.assign(new Error('boom'), { status, code });
    expect(classifyTwilioError(rest(400, 21614))).toEqual({
      kind: 'permanent',
      reason: 'Twilio 21614: boom',
    });
    expect(classifyTwilioError(rest(400, 63016)).kind).toBe('permanent');
    expect(classifyTwilioError(rest(401, 20003)).kind).toBe('permanent');
    expect(classifyTwilioError(rest(400, 21999)).kind).toBe('permanent');
    expect(classifyTwilioError(rest(429, 20429))).toEqual({
      kind: 'transient',
      reason: 'Twilio 20429: boom',
    });
    expect(classifyTwilioError(rest(503)).kind).toBe('transient');
    expect(
      classifyTwilioError(Object.assign(new Error('connect refused'), { code: 'ECONNREFUSED' })),
    ).toEqual({
      kind: 'transient',
      reason: 'ECONNREFUSED: connect refused',
    });
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('2', now)).toBe(2000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
