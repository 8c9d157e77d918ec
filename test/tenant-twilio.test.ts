import { channelSettings } from '../activities/channels/settings';
import { randomBytes } from 'node:crypto';
import { smsChannelFactory, whatsappChannelFactory } from '../activities/channels/twilio';
import { renderWhatsAppContent } from '../activities/channels/twilio/content-template';
import type { ChannelBuild, DeliveryTarget } from '../activities/channels/types';
import { decodeSecretKey, openSecret } from '../common/secret-box';
import { TemplateRegistry, type RenderContext } from '../templates/registry';
import { createTestTenant, TEST_SECRET_KEY } from './support/auth';
import { expectError } from './support/expect-error';
import { startStack, uniq, type ApiResponse, type Stack } from './support/stack';
import {
  ACCOUNT_SID,
  AUTH_TOKEN,
  CALLBACK_URL,
  PUBLIC_BASE_URL,
  SMS_FROM,
  TwilioDouble,
  twilioSignature,
  WHATSAPP_FROM,
} from './support/twilio-double';

const hex32 = () => randomBytes(16).toString('hex');
/** A tenant's own Twilio account, known to the double. */
const TENANT_SID = `AC${hex32()}`;
const TENANT_TOKEN = hex32();
const TENANT_SMS_FROM = '+15005550101';
const TENANT_WHATSAPP_FROM = '+14155550102';
const SUSPENDED_SID = `AC${hex32()}`;
const SUSPENDED_TOKEN = hex32();

const basic = (sid: string, token: string) => `Basic ${Buffer.from(`${sid}:${token}`).toString('base64')}`;
const sign = twilioSignature;
const phone = () => `+2637${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;

const goodSettings = {
  accountSid: TENANT_SID,
  authToken: TENANT_TOKEN,
  smsFrom: TENANT_SMS_FROM,
  whatsappFrom: TENANT_WHATSAPP_FROM,
};

describe('per-tenant Twilio', () => {
  const twilioApi = new TwilioDouble();
  let stack: Stack;

  beforeAll(async () => {
    await twilioApi.start();
    twilioApi.addAccount(TENANT_SID, {
      authToken: TENANT_TOKEN,
      friendlyName: 'Acme Help Desk',
      status: 'active',
    });
    twilioApi.addAccount(SUSPENDED_SID, {
      authToken: SUSPENDED_TOKEN,
      friendlyName: 'Old',
      status: 'suspended',
    });
    stack = await startStack({
      channelEnv: {
        TWILIO_ACCOUNT_SID: ACCOUNT_SID,
        TWILIO_AUTH_TOKEN: AUTH_TOKEN,
        TWILIO_FROM: SMS_FROM,
        TWILIO_WHATSAPP_FROM: WHATSAPP_FROM,
        TWILIO_API_BASE_URL: twilioApi.url,
        PUBLIC_BASE_URL,
      },
      apiEnv: { TWILIO_AUTH_TOKEN: AUTH_TOKEN, PUBLIC_BASE_URL, TWILIO_API_BASE_URL: twilioApi.url },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await twilioApi.close();
  });

  /** A fresh tenant of its own (no settings), so no test depends on another's. */
  async function newTenant() {
    const id = uniq('tw');
    const { key } = await createTestTenant(stack.db, id);
    const api = (method: string, path: string, body?: unknown): Promise<ApiResponse> =>
      stack.api(method, path, body, { authorization: `Bearer ${key}` });
    return {
      id,
      key,
      api,
      /** One SMS (or WhatsApp) of ticket.assigned to a raw number; waits for the notification's end. */
      async send(number: string, channel: 'sms' | 'whatsapp' = 'sms') {
        const created = await api('POST', '/v1/notifications', {
          event: 'ticket.assigned',
          to: { phones: [number] },
          channels: [channel],
          data: { ticketId: '7', title: 'Scanner jam' },
        });
        expect(created.status).toBe(202);
        const deadline = Date.now() + 60_000;
        for (;;) {
          const { body } = await api('GET', `/v1/notifications/${created.body.id}`);
          if (['completed', 'failed', 'cancelled'].includes(body.status)) {
            return { id: created.body.id as string, delivery: body.recipients[0].deliveries[0] };
          }
          if (Date.now() > deadline) throw new Error(`notification ${created.body.id} still ${body.status}`);
          await new Promise((r) => setTimeout(r, 150));
        }
      },
    };
  }

  describe('settings', () => {
    it('refuses invalid settings naming the field, and a first PUT without a token', async () => {
      const tenant = await newTenant();
      expectError(await tenant.api('GET', '/v1/settings/twilio'), 404, 'not_found');
      const refused = async (body: Record<string, unknown>, status: number, path: string) => {
        const response = await tenant.api('PUT', '/v1/settings/twilio', body);
        expectError(response, status, 'validation_failed');
        expect(response.body.error.details.map((d: { path: string }) => d.path)).toEqual([path]);
      };
      await refused({ ...goodSettings, accountSid: 'AC123' }, 400, 'accountSid');
      await refused({ ...goodSettings, authToken: 'secret' }, 400, 'authToken');
      await refused({ ...goodSettings, smsFrom: '5005550101' }, 400, 'smsFrom');
      await refused({ ...goodSettings, whatsappFrom: 'whatsapp:5005550101' }, 400, 'whatsappFrom');
      await refused({ accountSid: TENANT_SID, authToken: TENANT_TOKEN }, 400, 'smsFrom');
      await refused({ ...goodSettings, password: 'x' }, 400, 'body');
      const { authToken: _, ...tokenless } = goodSettings;
      await refused(tokenless, 422, 'authToken');
      expectError(await tenant.api('GET', '/v1/settings/twilio'), 404, 'not_found');
    });

    it('seals the token: GET shows only its last 4 characters, the row holds no plaintext', async () => {
      const tenant = await newTenant();
      const put = await tenant.api('PUT', '/v1/settings/twilio', goodSettings);
      expect(put.status).toBe(200);
      const view = {
        accountSid: TENANT_SID,
        authTokenSet: true,
        authTokenHint: `…${TENANT_TOKEN.slice(-4)}`,
        smsFrom: TENANT_SMS_FROM,
        whatsappFrom: `whatsapp:${TENANT_WHATSAPP_FROM}`,
        version: expect.any(Number),
        updatedAt: expect.any(String),
      };
      expect(put.body).toEqual(view);

      // The answer's raw text, not a parse of it: no trace of the token besides its last 4 characters.
      const raw = await fetch(`${stack.baseUrl}/v1/settings/twilio`, {
        headers: { authorization: `Bearer ${tenant.key}` },
      });
      expect(raw.status).toBe(200);
      const text = await raw.text();
      expect(JSON.parse(text)).toEqual({ ...view, version: put.body.version });
      expect(text).not.toContain(TENANT_TOKEN);
      expect(text).not.toContain(TENANT_TOKEN.slice(0, 8));

      const row = await stack.db.query<{ config: string; secret: string }>(
        "SELECT config::text AS config, secret FROM tenant_settings WHERE tenant_id = $1 AND kind = 'twilio'",
        [tenant.id],
      );
      expect(row.rows).toHaveLength(1);
      const stored = row.rows[0]!;
      expect(stored.config).not.toContain(TENANT_TOKEN.slice(-4));
      expect(stored.secret).not.toContain(TENANT_TOKEN.slice(0, 8));
      expect(openSecret(stored.secret, decodeSecretKey(TEST_SECRET_KEY))).toBe(TENANT_TOKEN);

      // Without the token: kept for the same account, a new version; refused for another account.
      const kept = await tenant.api('PUT', '/v1/settings/twilio', {
        accountSid: TENANT_SID,
        smsFrom: 'MG' + 'a'.repeat(32),
      });
      expect(kept.status).toBe(200);
      expect(kept.body).toMatchObject({ authTokenHint: view.authTokenHint, whatsappFrom: null });
      expect(kept.body.version).toBeGreaterThan(put.body.version);
      const moved = await tenant.api('PUT', '/v1/settings/twilio', {
        accountSid: SUSPENDED_SID,
        smsFrom: SMS_FROM,
      });
      expectError(moved, 422, 'validation_failed');
      expect(moved.body.error.details).toEqual([
        { path: 'authToken', message: 'required: accountSid changed' },
      ]);

      expect((await tenant.api('DELETE', '/v1/settings/twilio')).status).toBe(204);
      expectError(await tenant.api('GET', '/v1/settings/twilio'), 404, 'not_found');
      expectError(await tenant.api('DELETE', '/v1/settings/twilio'), 404, 'not_found');
    });

    it("tests the credentials against Twilio: 200 with the account, 422 with Twilio's error", async () => {
      const tenant = await newTenant();
      expectError(await tenant.api('POST', '/v1/settings/twilio/test'), 404, 'not_found');

      expect((await tenant.api('PUT', '/v1/settings/twilio', goodSettings)).status).toBe(200);
      const good = await tenant.api('POST', '/v1/settings/twilio/test');
      expect(good.status).toBe(200);
      expect(good.body).toEqual({
        ok: true,
        accountSid: TENANT_SID,
        friendlyName: 'Acme Help Desk',
        status: 'active',
        type: 'Full',
      });
      expect(twilioApi.accountFetches.at(-1)).toMatchObject({
        accountSid: TENANT_SID,
        authorization: basic(TENANT_SID, TENANT_TOKEN),
      });

      const wrongToken = hex32();
      expect(
        (await tenant.api('PUT', '/v1/settings/twilio', { ...goodSettings, authToken: wrongToken })).status,
      ).toBe(200);
      const bad = await tenant.api('POST', '/v1/settings/twilio/test');
      expectError(bad, 422, 'twilio_test_failed');
      expect(bad.body.error.message).toBe('Twilio 20003: Authenticate');
      expect(bad.body.error.details).toEqual([{ path: 'authToken', message: 'Twilio 20003: Authenticate' }]);
      expect(JSON.stringify(bad.body)).not.toContain(wrongToken);

      expect(
        (
          await tenant.api('PUT', '/v1/settings/twilio', {
            accountSid: SUSPENDED_SID,
            authToken: SUSPENDED_TOKEN,
            smsFrom: SMS_FROM,
          })
        ).status,
      ).toBe(200);
      const suspended = await tenant.api('POST', '/v1/settings/twilio/test');
      expectError(suspended, 422, 'twilio_test_failed');
      expect(suspended.body.error.message).toBe('the account is suspended: it cannot send');
    });
  });

  describe('sending', () => {
    it("sends a tenant's SMS with its own account and sender, another tenant's with the operator's", async () => {
      const own = await newTenant();
      const plain = await newTenant();
      expect((await own.api('PUT', '/v1/settings/twilio', goodSettings)).status).toBe(200);

      const [ownNumber, plainNumber] = [phone(), phone()];
      const [a, b] = await Promise.all([own.send(ownNumber), plain.send(plainNumber)]);

      expect(a.delivery).toMatchObject({ status: 'sent', attempts: 1, error: null });
      expect(twilioApi.to(ownNumber)).toEqual([
        expect.objectContaining({
          accountSid: TENANT_SID,
          authorization: basic(TENANT_SID, TENANT_TOKEN),
          fields: expect.objectContaining({
            From: TENANT_SMS_FROM,
            StatusCallback: `${CALLBACK_URL}?tenant=${own.id}`,
          }),
        }),
      ]);
      expect(b.delivery).toMatchObject({ status: 'sent', attempts: 1, error: null });
      expect(twilioApi.to(plainNumber)).toEqual([
        expect.objectContaining({
          accountSid: ACCOUNT_SID,
          authorization: basic(ACCOUNT_SID, AUTH_TOKEN),
          fields: expect.objectContaining({ From: SMS_FROM, StatusCallback: CALLBACK_URL }),
        }),
      ]);
    });

    it('a notification of an event with an approved WhatsApp template sends ContentSid and ContentVariables, no Body', async () => {
      const own = await newTenant();
      const event = uniq('order.shipped').replace(/[^a-z0-9.]/g, '');
      const contentSid = `HX${hex32()}`;
      const put = await own.api('PUT', `/v1/templates/${event}`, {
        manifest: {
          event,
          category: 'orders',
          description: 'An order left the warehouse.',
          defaultChannels: ['whatsapp'],
          defaultPriority: 'normal',
          variables: { orderId: { type: 'string', required: true }, eta: { type: 'string', required: true } },
          sample: { orderId: 'A-1', eta: 'Friday' },
          whatsapp: { contentSid, variables: { '1': '{{ orderId }}', '2': '{{ eta | upcase }}' } },
        },
        variants: {
          subject: 'Order {{ orderId }} shipped',
          mjml: '<mj-section><mj-column><mj-text>Order {{ orderId }} shipped.</mj-text></mj-column></mj-section>',
          text: 'Order {{ orderId }} shipped.',
          sms: 'Order {{ orderId }} shipped, arriving {{ eta }}.',
        },
      });
      expect(put.status).toBe(200);
      const number = phone();
      const created = await own.api('POST', '/v1/notifications', {
        event,
        to: { phones: [number] },
        data: { orderId: 'A-77', eta: 'Friday' },
      });
      expect(created.status).toBe(202);
      const deadline = Date.now() + 60_000;
      let delivery: { channel: string; status: string } | undefined;
      for (;;) {
        const { body } = await own.api('GET', `/v1/notifications/${created.body.id}`);
        if (['completed', 'failed'].includes(body.status)) {
          delivery = body.recipients[0].deliveries[0];
          break;
        }
        if (Date.now() > deadline) throw new Error(`notification still ${body.status}`);
        await new Promise((r) => setTimeout(r, 150));
      }
      expect(delivery).toMatchObject({ channel: 'whatsapp', status: 'sent' });
      const requests = twilioApi.to(`whatsapp:${number}`);
      expect(requests).toHaveLength(1);
      const { ContentVariables, ...fields } = requests[0]!.fields;
      expect(fields).toEqual(expect.objectContaining({ ContentSid: contentSid, To: `whatsapp:${number}` }));
      expect(fields.Body).toBeUndefined();
      expect(JSON.parse(ContentVariables!)).toEqual({ '1': 'A-77', '2': 'FRIDAY' });
    });

    it("a settings change reaches the worker's next send, and DELETE goes back to the operator's", async () => {
      const tenant = await newTenant();
      expect((await tenant.api('PUT', '/v1/settings/twilio', goodSettings)).status).toBe(200);
      const first = phone();
      await tenant.send(first);
      expect(twilioApi.to(first).map((r) => r.fields.From)).toEqual([TENANT_SMS_FROM]);

      const service = `MG${hex32()}`;
      expect(
        (await tenant.api('PUT', '/v1/settings/twilio', { accountSid: TENANT_SID, smsFrom: service })).status,
      ).toBe(200);
      const second = phone();
      await tenant.send(second);
      const [viaService] = twilioApi.to(second);
      expect(viaService!.fields.MessagingServiceSid).toBe(service);
      expect(viaService!.fields.From).toBeUndefined();
      expect(viaService!.accountSid).toBe(TENANT_SID);

      // No WhatsApp sender in the tenant's settings: skipped, never sent from the operator's account.
      const noWhatsapp = phone();
      const skipped = await tenant.send(noWhatsapp, 'whatsapp');
      expect(skipped.delivery).toMatchObject({
        status: 'skipped',
        error: "the tenant's own Twilio settings have no WhatsApp sender (whatsappFrom)",
      });
      expect(twilioApi.to(`whatsapp:${noWhatsapp}`)).toHaveLength(0);

      expect((await tenant.api('DELETE', '/v1/settings/twilio')).status).toBe(204);
      const third = phone();
      await tenant.send(third);
      expect(twilioApi.to(third)).toEqual([
        expect.objectContaining({
          accountSid: ACCOUNT_SID,
          fields: expect.objectContaining({ From: SMS_FROM }),
        }),
      ]);
    });
  });

  describe('status callbacks', () => {
    const post = (query: string, params: Record<string, string>, signature: string) =>
      fetch(`${stack.baseUrl}/v1/providers/twilio/status${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
        body: new URLSearchParams(params).toString(),
      });
    const status = (sid: string, messageStatus: string, accountSid: string) => ({
      AccountSid: accountSid,
      MessageSid: sid,
      MessageStatus: messageStatus,
    });
    const providerStatus = async (sid: string) =>
      (
        await stack.db.query<{ status: string; provider_status: string | null }>(
          'SELECT status, provider_status FROM deliveries WHERE provider_message_id = $1',
          [sid],
        )
      ).rows[0];

    it("verifies a tenant's callbacks with its own token only", async () => {
      const tenant = await newTenant();
      const other = await newTenant();
      expect((await tenant.api('PUT', '/v1/settings/twilio', goodSettings)).status).toBe(200);
      const otherToken = hex32();
      const otherSid = `AC${hex32()}`;
      expect(
        (
          await other.api('PUT', '/v1/settings/twilio', {
            accountSid: otherSid,
            authToken: otherToken,
            smsFrom: TENANT_SMS_FROM,
          })
        ).status,
      ).toBe(200);
      const { delivery } = await tenant.send(phone());
      const sid = delivery.providerMessageId as string;
      const query = `?tenant=${tenant.id}`;
      const url = `${CALLBACK_URL}${query}`;
      const delivered = status(sid, 'delivered', TENANT_SID);

      // The operator's token, another tenant's token (with its own tenant in the URL, too): refused.
      for (const [q, signature] of [
        [query, sign(url, delivered, AUTH_TOKEN)],
        ['', sign(CALLBACK_URL, delivered, AUTH_TOKEN)],
        [query, sign(url, delivered, otherToken)],
        [`?tenant=${other.id}`, sign(`${CALLBACK_URL}?tenant=${other.id}`, delivered, otherToken)],
      ] as const) {
        const refused = await post(q, delivered, signature);
        expect(refused.status).toBe(403);
        expect(await refused.json()).toMatchObject({ error: { code: 'invalid_signature' } });
      }
      expect(await providerStatus(sid)).toEqual({ status: 'sent', provider_status: null });

      const accepted = await post(query, delivered, sign(url, delivered, TENANT_TOKEN));
      expect(accepted.status).toBe(204);
      expect(await providerStatus(sid)).toEqual({ status: 'delivered', provider_status: 'delivered' });
    });

    it("verifies an operator-sent message's callbacks with the operator's token, not a tenant's", async () => {
      const configured = await newTenant();
      const plain = await newTenant();
      expect((await configured.api('PUT', '/v1/settings/twilio', goodSettings)).status).toBe(200);
      const { delivery } = await plain.send(phone());
      const sid = delivery.providerMessageId as string;
      const params = status(sid, 'delivered', ACCOUNT_SID);
      const claimed = `${CALLBACK_URL}?tenant=${configured.id}`;
      expect(
        (await post(`?tenant=${configured.id}`, params, sign(claimed, params, TENANT_TOKEN))).status,
      ).toBe(403);
      expect((await post('', params, sign(CALLBACK_URL, params, TENANT_TOKEN))).status).toBe(403);
      expect((await post('', params, sign(CALLBACK_URL, params, AUTH_TOKEN))).status).toBe(204);
      expect(await providerStatus(sid)).toEqual({ status: 'delivered', provider_status: 'delivered' });
    });

    it('keeps an early callback signed with the tenant token (named in the URL) and applies it', async () => {
      const tenant = await newTenant();
      expect((await tenant.api('PUT', '/v1/settings/twilio', goodSettings)).status).toBe(200);
      const number = phone();
      const sid = `SM${hex32()}`;
      const query = `?tenant=${tenant.id}`;
      const url = `${CALLBACK_URL}${query}`;
      const early = status(sid, 'delivered', TENANT_SID);
      expect((await post(query, early, sign(url, early, AUTH_TOKEN))).status).toBe(403);
      expect((await post(query, early, sign(url, early, TENANT_TOKEN))).status).toBe(204);
      twilioApi.script(number, { status: 201, body: { sid, status: 'queued', to: number } });

      const { delivery } = await tenant.send(number);
      expect(delivery.providerMessageId).toBe(sid);
      expect(await providerStatus(sid)).toEqual({ status: 'delivered', provider_status: 'delivered' });
    });
  });

  describe('channels built without the operator account', () => {
    const target = (tenantId: string, channel: 'sms' | 'whatsapp', address: string): DeliveryTarget => ({
      deliveryId: '1',
      notificationId: '00000000-0000-4000-8000-000000000002',
      tenantId,
      event: 'ticket.assigned',
      priority: 'normal',
      channel,
      recipientKey: `phone:${address}`,
      externalId: null,
      address,
      recipientName: null,
      data: {},
    });
    const failureOf = async (build: ChannelBuild, t: DeliveryTarget, content: unknown) =>
      build.channel.classify(
        await build.channel.send(t, content).then(
          () => new Error('expected the send to fail'),
          (e: unknown) => e,
        ),
      );

    it("serve tenants with their own settings; the others' deliveries are skipped", async () => {
      const own = await newTenant();
      const plain = await newTenant();
      expect((await own.api('PUT', '/v1/settings/twilio', goodSettings)).status).toBe(200);
      const env = { TWILIO_API_BASE_URL: twilioApi.url, PUBLIC_BASE_URL };
      const sms = smsChannelFactory({
        settings: channelSettings({ ...env, HERALD_SECRET_KEY: TEST_SECRET_KEY }),
        db: stack.db,
      });
      try {
        expect(sms.report).toBe(
          `sms: on (only for tenants with their own Twilio settings: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM are not set, via ${twilioApi.url}, status callbacks to ${CALLBACK_URL})`,
        );
        const number = phone();
        const sent = await sms.channel.send(target(own.id, 'sms', number), 'Hello from Acme');
        expect(sent.providerMessageId).toMatch(/^SM[0-9a-f]{32}$/);
        expect(twilioApi.to(number)).toEqual([
          expect.objectContaining({
            accountSid: TENANT_SID,
            fields: {
              To: number,
              From: TENANT_SMS_FROM,
              Body: 'Hello from Acme',
              StatusCallback: `${CALLBACK_URL}?tenant=${own.id}`,
            },
          }),
        ]);
        expect(await failureOf(sms, target(plain.id, 'sms', phone()), 'Hello')).toEqual({
          kind: 'skipped',
          reason: 'channel not configured: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM not set',
        });
      } finally {
        await sms.close();
      }
      // Without HERALD_SECRET_KEY no tenant's token opens: off, as before per-tenant settings.
      expect(smsChannelFactory({ settings: channelSettings(env), db: stack.db }).report).toBe(
        'sms: off (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM are not set)',
      );
    });

    it("never falls back to the operator's account for a tenant whose token this worker cannot open", async () => {
      const own = await newTenant();
      expect((await own.api('PUT', '/v1/settings/twilio', goodSettings)).status).toBe(200);
      const keyless = smsChannelFactory({
        settings: channelSettings({
          TWILIO_ACCOUNT_SID: ACCOUNT_SID,
          TWILIO_AUTH_TOKEN: AUTH_TOKEN,
          TWILIO_FROM: SMS_FROM,
          TWILIO_API_BASE_URL: twilioApi.url,
        }),
        db: stack.db,
      });
      try {
        const number = phone();
        expect(await failureOf(keyless, target(own.id, 'sms', number), 'Hello')).toEqual({
          kind: 'skipped',
          reason:
            "the tenant's own Twilio settings cannot be opened: HERALD_SECRET_KEY is not set on this worker",
        });
        expect(twilioApi.to(number)).toHaveLength(0);
      } finally {
        await keyless.close();
      }
    });
  });
});

describe('WhatsApp content templates', () => {
  const twilioApi = new TwilioDouble();
  let stack: Stack;
  let templates: TemplateRegistry;
  const CONTENT_SID = `HX${hex32()}`;

  beforeAll(async () => {
    await twilioApi.start();
    stack = await startStack({ worker: false });
    templates = await TemplateRegistry.load();
  });
  afterAll(async () => {
    await stack?.close();
    await twilioApi.close();
  });

  /** The catalogue, with shift.assigned declaring an approved template (a deployment's own ContentSid). */
  const withContentTemplate = (variables: Record<string, string>) =>
    Object.assign(Object.create(templates) as TemplateRegistry, {
      manifest: (event: string) => {
        const manifest = templates.manifest(event);
        return event === 'shift.assigned' && manifest
          ? { ...manifest, whatsapp: { contentSid: CONTENT_SID, variables } }
          : manifest;
      },
    });
  const context = (data: Record<string, unknown>): RenderContext => ({
    data,
    recipient: { name: 'Tendai', email: null, externalId: 'tendai' },
    brand: { name: 'Herald Test' },
    notification: { id: '00000000-0000-4000-8000-000000000003', event: 'shift.assigned', priority: 'normal' },
  });
  const shift = {
    shiftDate: 'Saturday 22 March',
    startTime: '16:00',
    endTime: '23:00',
    location: 'Avondale',
  };
  const variables = {
    '1': '{{ recipient.name }}',
    '2': '{{ shiftDate }}, {{ startTime }}-{{ endTime }}',
    '3': '{% if location %}{{ location }}{% else %}the usual site{% endif %}',
  };
  const target = (channel: 'sms' | 'whatsapp', address: string): DeliveryTarget => ({
    deliveryId: '1',
    notificationId: '00000000-0000-4000-8000-000000000003',
    tenantId: stack.tenantId,
    event: 'shift.assigned',
    priority: 'normal',
    channel,
    recipientKey: 'tendai',
    externalId: 'tendai',
    address,
    recipientName: 'Tendai',
    data: shift,
  });
  const operatorEnv = () => ({
    TWILIO_ACCOUNT_SID: ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    TWILIO_FROM: SMS_FROM,
    TWILIO_WHATSAPP_FROM: WHATSAPP_FROM,
    TWILIO_API_BASE_URL: twilioApi.url,
    PUBLIC_BASE_URL,
  });

  it('sends ContentSid and ContentVariables (the rendered placeholders) and no Body', async () => {
    const whatsapp = whatsappChannelFactory({ settings: channelSettings(operatorEnv()), db: stack.db });
    try {
      const registry = withContentTemplate(variables);
      const content = whatsapp.channel.render(registry, 'shift.assigned', context(shift));
      const number = phone();
      const sent = await whatsapp.channel.send(target('whatsapp', number), content);
      expect(sent.providerMessageId).toMatch(/^SM[0-9a-f]{32}$/);

      const [request] = twilioApi.to(`whatsapp:${number}`);
      expect(twilioApi.to(`whatsapp:${number}`)).toHaveLength(1);
      const { ContentVariables, ...fields } = request!.fields;
      expect(fields).toEqual({
        To: `whatsapp:${number}`,
        From: `whatsapp:${WHATSAPP_FROM}`,
        ContentSid: CONTENT_SID,
        StatusCallback: CALLBACK_URL,
      });
      expect(JSON.parse(ContentVariables!)).toEqual({
        '1': 'Tendai',
        '2': 'Saturday 22 March, 16:00-23:00',
        '3': 'Avondale',
      });

      // Without a declared template WhatsApp sends the SMS text; SMS never uses the template.
      const plain = whatsapp.channel.render(templates, 'shift.assigned', context(shift));
      const other = phone();
      await whatsapp.channel.send(target('whatsapp', other), plain);
      expect(twilioApi.to(`whatsapp:${other}`).map((r) => Object.keys(r.fields).sort())).toEqual([
        ['Body', 'From', 'StatusCallback', 'To'],
      ]);
      const sms = smsChannelFactory({ settings: channelSettings(operatorEnv()), db: stack.db });
      try {
        expect(typeof sms.channel.render(registry, 'shift.assigned', context(shift))).toBe('string');
      } finally {
        await sms.close();
      }
    } finally {
      await whatsapp.close();
    }
  });

  it('fails the render naming the placeholder when a variable is missing or renders empty', () => {
    const template = { contentSid: CONTENT_SID, variables: { '1': '{{ shiftDate }}', '2': '{{ role }}' } };
    expect(() => renderWhatsAppContent('shift.assigned', template, context({ shiftDate: 'Sunday' }))).toThrow(
      /template shift\.assigned: whatsapp variable 2: .*role/,
    );
    expect(() =>
      renderWhatsAppContent('shift.assigned', template, context({ shiftDate: 'Sunday', role: '  ' })),
    ).toThrow('template shift.assigned: whatsapp variable 2 rendered empty');
    expect(
      renderWhatsAppContent('shift.assigned', template, context({ shiftDate: 'Sunday', role: 'Line\ncook' })),
    ).toEqual({ contentSid: CONTENT_SID, contentVariables: '{"1":"Sunday","2":"Line cook"}' });
    // Dates in the recipient's locale and zone, as in the other variants: 23:30 UTC is the next day in Harare.
    const dated = {
      contentSid: CONTENT_SID,
      variables: { '1': '{{ startsAt | date_local: "long", "none" }}' },
    };
    const french = context({ startsAt: '2030-03-22T23:30:00Z' });
    french.recipient = { ...french.recipient, locale: 'fr-ZW', timezone: 'Africa/Harare' };
    expect(JSON.parse(renderWhatsAppContent('shift.assigned', dated, french).contentVariables)).toEqual({
      '1': '23 mars 2030',
    });
  });

  it('the Twilio double refuses what Twilio refuses: Body with ContentSid, bad ContentVariables', async () => {
    const whatsapp = whatsappChannelFactory({ settings: channelSettings(operatorEnv()), db: stack.db });
    try {
      const number = phone();
      const refusal = async (content: unknown) =>
        whatsapp.channel.classify(
          await whatsapp.channel.send(target('whatsapp', number), content).then(
            () => new Error('expected a refusal'),
            (e: unknown) => e,
          ),
        );
      expect(await refusal({ contentSid: 'HXnot-a-sid', contentVariables: '{}' })).toEqual({
        kind: 'permanent',
        reason: 'Twilio 21655: The ContentSid is Invalid.',
      });
      expect(await refusal({ contentSid: CONTENT_SID, contentVariables: '{"1": ""}' })).toEqual({
        kind: 'permanent',
        reason: 'Twilio 21656: The ContentVariables Parameter is invalid.',
      });
    } finally {
      await whatsapp.close();
    }
  });
});
