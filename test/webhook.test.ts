import { channelSettings } from '../activities/channels/settings';
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { webhookChannelFactory, renderSlackText } from '../activities/channels/webhook';
import { classifyResponse, parseRetryAfter } from '../activities/channels/webhook/responses';
import type { DeliveryTarget, SendFailure } from '../activities/channels/types';
import { createApp } from '../api/app';
import { loadApiConfig } from '../api/config';
import { decodeSecretKey, openSecret, sealSecret, secretKeyIfSet } from '../common/secret-box';
import { TemplateRegistry } from '../templates/registry';
import { expectError } from './support/expect-error';
import { startStack, uniq, waitForNotification, type ApiResponse, type Stack } from './support/stack';

const SECRET_KEY = randomBytes(32).toString('base64');

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Wait this long before answering (a receiver that hangs). */
  delayMs?: number;
}

/** A loopback webhook receiver: records every request; answers per path from a script (the last answer repeats). */
async function startReceiver() {
  const received: Received[] = [];
  const scripts = new Map<string, Answer[]>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({
        path,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      });
      const script = scripts.get(path) ?? [];
      const answer = (script.length > 1 ? script.shift() : script[0]) ?? { status: 200 };
      const reply = () => {
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body ?? '');
      };
      if (answer.delayMs) setTimeout(reply, answer.delayMs).unref();
      else reply();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    /** A fresh path on this receiver, answering with `answers` in turn. */
    route(...answers: Answer[]) {
      const path = `/${uniq('hook')}`;
      scripts.set(path, answers);
      return { path, url: `${base}${path}`, requests: () => received.filter((r) => r.path === path) };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The Standard Webhooks headers of a received request, as the verifier takes them. */
const signedHeaders = (r: Received) => ({
  'webhook-id': String(r.headers['webhook-id']),
  'webhook-timestamp': String(r.headers['webhook-timestamp']),
  'webhook-signature': String(r.headers['webhook-signature']),
});

/** Signs independently of Herald (node:crypto, per the Standard Webhooks spec). */
function signIndependently(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

describe('the webhook channel', () => {
  let stack: Stack;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    receiver = await startReceiver();
    stack = await startStack({
      channelEnv: { HERALD_SECRET_KEY: SECRET_KEY, HERALD_ALLOW_LOOPBACK_URLS: 'true' },
      apiEnv: { HERALD_SECRET_KEY: SECRET_KEY, HERALD_ALLOW_LOOPBACK_URLS: 'true' },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await receiver?.close();
  });

  const newRecipient = async (prefix = 'hooked') => {
    const id = uniq(prefix);
    expect((await stack.api('PUT', `/v1/recipients/${id}`, { name: `Name ${id}` })).status).toBe(201);
    return id;
  };
  const register = async (body: Record<string, unknown>) => {
    const created = await stack.api('POST', '/v1/webhook-endpoints', body);
    expect(created.status).toBe(201);
    return created.body as { id: string; secret: string | null; secrets: string[]; url: string };
  };
  /** ticket.assigned over the webhook channel only; waits for the end. */
  const notify = async (to: Record<string, string[]>, data: Record<string, unknown> = {}) => {
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to,
      channels: ['webhook'],
      data: { ticketId: '77', title: 'Printer on fire', ...data },
    });
    expect(created.status).toBe(202);
    const view = await waitForNotification(stack, created.body.id, 30_000);
    const deliveries = await stack.api('GET', `/v1/deliveries?notification=${created.body.id}`);
    return {
      id: created.body.id as string,
      view,
      deliveries: deliveries.body.items as Record<string, unknown>[],
    };
  };

  it('signs each delivery so that the standardwebhooks package verifies it, and only the untouched one', async () => {
    const recipient = await newRecipient();
    const hook = receiver.route({ status: 204 });
    const endpoint = await register({ url: hook.url, recipient });
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const secret = endpoint.secret!;

    const { id, deliveries } = await notify({ recipients: [recipient] }, { priority: 'high' });
    const [request, ...others] = hook.requests();
    expect(others).toHaveLength(0);
    expect(request!.headers['content-type']).toBe('application/json');
    const headers = signedHeaders(request!);
    expect(headers['webhook-id']).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(Math.abs(Number(headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);

    const payload = new Webhook(secret).verify(request!.body, headers);
    expect(payload).toEqual({
      type: 'ticket.assigned',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      data: {
        notificationId: id,
        event: 'ticket.assigned',
        priority: 'normal',
        recipient: { externalId: recipient, name: `Name ${recipient}` },
        data: { ticketId: '77', title: 'Printer on fire', priority: 'high' },
      },
    });
    expect(deliveries).toEqual([
      expect.objectContaining({
        channel: 'webhook',
        recipientKey: recipient,
        // The endpoint's id, never its URL (a credential).
        address: `webhook:${endpoint.id}`,
        status: 'sent',
        attempts: 1,
        providerMessageId: headers['webhook-id'],
      }),
    ]);

    // One byte changed anywhere in the body fails verification.
    const body = Buffer.from(request!.body);
    const at = body.indexOf('Printer');
    body[at] = 'p'.charCodeAt(0);
    expect(() => new Webhook(secret).verify(body.toString(), headers)).toThrow('No matching signature found');
    // So does a correct signature over a timestamp older than five minutes.
    const old = Math.floor(Date.now() / 1000) - 5 * 60 - 10;
    const oldHeaders = {
      ...headers,
      'webhook-timestamp': String(old),
      'webhook-signature': signIndependently(secret, headers['webhook-id'], old, request!.body),
    };
    expect(() => new Webhook(secret).verify(request!.body, oldHeaders)).toThrow('Message timestamp too old');
    // …while the same independent signing over a fresh timestamp passes: only the age failed.
    const now = Math.floor(Date.now() / 1000);
    const freshHeaders = {
      ...headers,
      'webhook-timestamp': String(now),
      'webhook-signature': signIndependently(secret, headers['webhook-id'], now, request!.body),
    };
    expect(new Webhook(secret).verify(request!.body, freshHeaders)).toEqual(payload);
    // And another secret does not verify the original.
    expect(() =>
      new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(request!.body, headers),
    ).toThrow();
  });

  it('keeps the webhook-id across a retry and honours Retry-After', async () => {
    const recipient = await newRecipient();
    const hook = receiver.route(
      { status: 503, headers: { 'retry-after': '1' }, body: 'busy' },
      { status: 200, body: 'ok' },
    );
    const { secret } = await register({ url: hook.url, recipient });
    const { view, deliveries } = await notify({ recipients: [recipient] });
    expect(view.status).toBe('completed');
    const requests = hook.requests();
    expect(requests).toHaveLength(2);
    const [first, second] = requests as [Received, Received];
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    // The channel's own backoff here is 200 ms: the wait is the receiver's Retry-After.
    expect(second.at - first.at).toBeGreaterThanOrEqual(900);
    for (const r of requests)
      expect(() => new Webhook(secret!).verify(r.body, signedHeaders(r))).not.toThrow();
    expect(deliveries).toEqual([
      expect.objectContaining({
        status: 'sent',
        attempts: 2,
        providerMessageId: first.headers['webhook-id'],
      }),
    ]);
  });

  it('records a redirect as a failure and never follows it', async () => {
    let canaryConnections = 0;
    const canary = net.createServer((socket) => {
      canaryConnections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
    try {
      const canaryUrl = `http://127.0.0.1:${(canary.address() as AddressInfo).port}/elsewhere`;
      const recipient = await newRecipient();
      const hook = receiver.route({ status: 302, headers: { location: canaryUrl } });
      await register({ url: hook.url, recipient });
      const { view, deliveries } = await notify({ recipients: [recipient] });
      expect(view.status).toBe('failed');
      expect(deliveries).toEqual([
        expect.objectContaining({
          status: 'failed',
          attempts: 1,
          error: `HTTP 302: redirect to ${canaryUrl} not followed`,
        }),
      ]);
      expect(hook.requests()).toHaveLength(1);
      expect(canaryConnections).toBe(0);
    } finally {
      await new Promise<void>((resolve) => canary.close(() => resolve()));
    }
  });

  it('disables an endpoint that answers 410 Gone, sends nothing more to it, and re-enables it on request', async () => {
    const recipient = await newRecipient();
    const hook = receiver.route({ status: 410, body: 'gone' }, { status: 200 });
    const endpoint = await register({ url: hook.url, recipient });
    const first = await notify({ recipients: [recipient] });
    expect(first.deliveries).toEqual([
      expect.objectContaining({ status: 'failed', attempts: 1, error: expect.stringContaining('410') }),
    ]);
    const shown = await stack.api('GET', `/v1/webhook-endpoints/${endpoint.id}`);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({
      disabled: true,
      disabledAt: expect.any(String),
      disabledReason: expect.stringContaining('410 Gone'),
    });

    const later = await notify({ recipients: [recipient] });
    expect(later.deliveries).toEqual([]);
    expect(hook.requests()).toHaveLength(1);

    const enabled = await stack.api('POST', `/v1/webhook-endpoints/${endpoint.id}/enable`);
    expect(enabled.status).toBe(200);
    expect(enabled.body).toMatchObject({ disabled: false, disabledAt: null, disabledReason: null });
    const again = await notify({ recipients: [recipient] });
    expect(again.deliveries).toEqual([expect.objectContaining({ status: 'sent' })]);
    expect(hook.requests()).toHaveLength(2);
  });

  it('signs with every secret during a rotation, newest first, and with one after the old ones are removed', async () => {
    const recipient = await newRecipient();
    const hook = receiver.route({ status: 200 });
    const oldSecret = `whsec_${randomBytes(24).toString('base64')}`;
    const endpoint = await register({ url: hook.url, recipient, secret: oldSecret });
    expect(endpoint.secret).toBe(oldSecret);
    expect(endpoint.secrets).toEqual([`whsec_…${oldSecret.slice(-4)}`]);

    const rotated = await stack.api('POST', `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    const newSecret = rotated.body.secret as string;
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(oldSecret);
    expect(rotated.body.secrets).toEqual([`whsec_…${newSecret.slice(-4)}`, `whsec_…${oldSecret.slice(-4)}`]);
    const shown = await stack.api('GET', `/v1/webhook-endpoints/${endpoint.id}`);
    expect(shown.body.secrets).toEqual(rotated.body.secrets);
    expect(JSON.stringify(shown.body)).not.toContain(newSecret.slice(6, 20));

    await notify({ recipients: [recipient] });
    const during = hook.requests()[0]!;
    const signatures = String(during.headers['webhook-signature']).split(' ');
    expect(signatures).toHaveLength(2);
    const headers = signedHeaders(during);
    expect(() => new Webhook(oldSecret).verify(during.body, headers)).not.toThrow();
    expect(() => new Webhook(newSecret).verify(during.body, headers)).not.toThrow();
    // The newest secret's signature comes first.
    expect(signatures[0]).toBe(
      signIndependently(newSecret, headers['webhook-id'], Number(headers['webhook-timestamp']), during.body),
    );

    const trimmed = await stack.api('DELETE', `/v1/webhook-endpoints/${endpoint.id}/secrets/old`);
    expect(trimmed.status).toBe(200);
    expect(trimmed.body.secrets).toEqual([`whsec_…${newSecret.slice(-4)}`]);
    await notify({ recipients: [recipient] });
    const after = hook.requests()[1]!;
    expect(String(after.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(() => new Webhook(newSecret).verify(after.body, signedHeaders(after))).not.toThrow();
    expect(() => new Webhook(oldSecret).verify(after.body, signedHeaders(after))).toThrow();
  });

  it('sends a tenant-wide endpoint one delivery per notification, whoever it is for', async () => {
    const hook = receiver.route({ status: 200 });
    const endpoint = await register({ url: hook.url });
    try {
      expect(endpoint).toMatchObject({ recipient: null });
      const people = [await newRecipient(), await newRecipient()];
      const first = await notify({ recipients: people });
      const second = await notify({ recipients: people });
      for (const n of [first, second]) {
        expect(n.deliveries).toEqual([
          expect.objectContaining({ recipientKey: `webhook:${endpoint.id}`, status: 'sent', attempts: 1 }),
        ]);
      }
      const requests = hook.requests();
      expect(requests).toHaveLength(2);
      const payloads = requests.map((r) => new Webhook(endpoint.secret!).verify(r.body, signedHeaders(r)));
      expect(payloads).toEqual([
        expect.objectContaining({
          data: expect.objectContaining({ notificationId: first.id, recipient: null }),
        }),
        expect.objectContaining({
          data: expect.objectContaining({ notificationId: second.id, recipient: null }),
        }),
      ]);
    } finally {
      // Tenant-wide endpoints receive every notification: leave none behind for other tests.
      expect((await stack.api('DELETE', `/v1/webhook-endpoints/${endpoint.id}`)).status).toBe(204);
    }
    expect((await stack.api('GET', `/v1/webhook-endpoints/${endpoint.id}`)).status).toBe(404);
  });

  it('posts the SMS text as {"text"} to a Slack endpoint, unsigned, with mentions escaped', async () => {
    const recipient = await newRecipient();
    const hook = receiver.route({ status: 200, body: 'ok' });
    const endpoint = await register({ url: hook.url, recipient, preset: 'slack' });
    expect(endpoint).toMatchObject({ preset: 'slack', secret: null, secrets: [] });
    const { deliveries } = await notify({ recipients: [recipient] }, { title: 'Disk <!channel> full' });
    expect(deliveries).toEqual([expect.objectContaining({ status: 'sent' })]);
    const [request] = hook.requests();
    expect(request!.headers['webhook-signature']).toBeUndefined();
    expect(request!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request!.body)).toEqual({
      text: 'Herald Test: Ticket #77 Disk &lt;!channel&gt; full assigned to you.',
    });
  });

  describe('endpoint registration', () => {
    it('lists and shows endpoints with masked secrets only, and deletes them', async () => {
      const recipient = await newRecipient();
      const hook = receiver.route({ status: 200 });
      const endpoint = await register({ url: hook.url, recipient });
      const listed = await stack.api('GET', `/v1/webhook-endpoints?recipient=${recipient}`);
      expect(listed.status).toBe(200);
      expect(listed.body.items).toEqual([
        {
          id: endpoint.id,
          // Masked: the receiver's path (`/hook-…`) is no plain word.
          url: hook.url.replace(/\/[^/]+$/, '/****'),
          recipient,
          preset: 'standard',
          secrets: [`whsec_…${endpoint.secret!.slice(-4)}`],
          disabled: false,
          disabledAt: null,
          disabledReason: null,
          createdAt: expect.any(String),
          updatedAt: expect.any(String),
        },
      ]);
      expect(JSON.stringify(listed.body)).not.toContain(endpoint.secret!.slice(6, 30));
      // At rest the secret is sealed: the column holds no trace of it, and the key opens it.
      const stored = await stack.db.query<{ secrets: string[] }>(
        'SELECT secrets FROM webhook_endpoints WHERE id = $1',
        [endpoint.id],
      );
      expect(stored.rows[0]!.secrets[0]).not.toContain(endpoint.secret!.slice(6, 16));
      expect(openSecret(stored.rows[0]!.secrets[0]!, decodeSecretKey(SECRET_KEY))).toBe(endpoint.secret);

      expect((await stack.api('DELETE', `/v1/webhook-endpoints/${endpoint.id}`)).status).toBe(204);
      expectError(await stack.api('GET', `/v1/webhook-endpoints/${endpoint.id}`), 404, 'not_found');
      expectError(await stack.api('DELETE', `/v1/webhook-endpoints/${endpoint.id}`), 404, 'not_found');
    });

    const expectRefused = (response: ApiResponse, status: number, path: string) => {
      expectError(response, status, 'validation_failed');
      expect(response.body.error.details.map((d: { path: string }) => d.path)).toEqual([path]);
    };

    it('refuses plain http, unknown recipients and short or malformed secrets, naming the field', async () => {
      const recipient = await newRecipient();
      const url = receiver.route({ status: 200 }).url;
      const post = (body: unknown) => stack.api('POST', '/v1/webhook-endpoints', body);
      expectRefused(await post({ url: 'http://example.com/hook' }), 422, 'url');
      const plainHttp = await post({ url: 'http://93.184.215.14/hook' });
      expectRefused(plainHttp, 422, 'url');
      expect(plainHttp.body.error.details[0].message).toContain('https');
      expectRefused(await post({ url: 'ftp://example.com/hook' }), 422, 'url');
      expectRefused(await post({ url: 'not a url' }), 422, 'url');
      expectRefused(await post({ url, recipient: uniq('nobody') }), 422, 'recipient');
      const short = `whsec_${randomBytes(23).toString('base64')}`;
      const tooShort = await post({ url, recipient, secret: short });
      expectRefused(tooShort, 400, 'secret');
      expect(tooShort.body.error.message).toContain('at least 24 bytes');
      expectRefused(
        await post({ url, recipient, secret: randomBytes(32).toString('base64') }),
        400,
        'secret',
      );
      expectRefused(
        await post({ url, recipient, secret: 'whsec_not*base64*at*all*but*long*enough*really' }),
        400,
        'secret',
      );
      expectRefused(
        await post({
          url,
          recipient,
          preset: 'slack',
          secret: `whsec_${randomBytes(32).toString('base64')}`,
        }),
        400,
        'secret',
      );
      expectRefused(await post({ url, preset: 'discord' }), 400, 'preset');
      // Exactly 24 bytes is enough.
      const ok = await post({ url, recipient, secret: `whsec_${randomBytes(24).toString('base64')}` });
      expect(ok.status).toBe(201);
      expect((await stack.api('DELETE', `/v1/webhook-endpoints/${ok.body.id}`)).status).toBe(204);
      expect((await stack.api('POST', `/v1/webhook-endpoints/${ok.body.id}/rotate-secret`)).status).toBe(404);
    });

    it('refuses loopback URLs unless allowed, and answers 503 naming HERALD_SECRET_KEY when it is unset', async () => {
      const templates = await TemplateRegistry.load();
      const appWith = (env: Record<string, string>) =>
        createApp({
          db: stack.db,
          temporal: stack.client,
          templates,
          config: loadApiConfig({ DATABASE_URL: stack.env.databaseUrl, ...env }),
        });
      const call = async (app: ReturnType<typeof createApp>, body: unknown): Promise<ApiResponse> => {
        const response = await app.request('/v1/webhook-endpoints', {
          method: 'POST',
          // The stack's key is in the shared database, so every app over it accepts it.
          headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.apiKey}` },
          body: JSON.stringify(body),
        });
        return { status: response.status, headers: response.headers, body: await response.json() };
      };
      const strict = appWith({ HERALD_SECRET_KEY: SECRET_KEY, HERALD_ALLOW_LOOPBACK_URLS: 'false' });
      for (const url of [
        'https://127.0.0.1/hook',
        'https://[::1]/hook',
        'https://localhost/hook',
        'http://127.0.0.1:9/x',
      ]) {
        const refused = await call(strict, { url });
        expectRefused(refused, 422, 'url');
      }
      expect((await call(strict, { url: 'https://10.1.2.3/hook' })).body.error.details[0].message).toContain(
        'private',
      );
      // Private addresses stay refused even where loopback is allowed.
      expectRefused(
        await stack.api('POST', '/v1/webhook-endpoints', { url: 'https://192.168.1.10/hook' }),
        422,
        'url',
      );

      const keyless = await call(appWith({ HERALD_ALLOW_LOOPBACK_URLS: 'true' }), {
        url: receiver.route({ status: 200 }).url,
      });
      expectError(keyless, 503, 'webhooks_not_configured');
      expect(keyless.body.error.message).toContain('HERALD_SECRET_KEY');
      expect(() => loadApiConfig({ DATABASE_URL: 'postgres://x', HERALD_SECRET_KEY: 'too-short' })).toThrow(
        /HERALD_SECRET_KEY: must be 32 bytes/,
      );
    });
  });

  describe('at send time', () => {
    const target = (over: Partial<DeliveryTarget>): DeliveryTarget => ({
      deliveryId: '1',
      notificationId: '00000000-0000-4000-8000-000000000001',
      tenantId: stack.tenantId,
      event: 'ticket.assigned',
      priority: 'normal',
      channel: 'webhook',
      recipientKey: 'nobody',
      externalId: 'nobody',
      address: 'https://nowhere.invalid/',
      recipientName: null,
      data: {},
      ...over,
    });
    const content = { slackText: null, slackTextProblem: null };
    const failureOf = async (
      build: ReturnType<typeof webhookChannelFactory>,
      t: DeliveryTarget,
    ): Promise<SendFailure> => {
      const error: unknown = await build.channel.send(t, content).then(
        () => new Error('expected the send to fail'),
        (e: unknown) => e,
      );
      return build.channel.classify(error);
    };

    it('is off without HERALD_SECRET_KEY and refuses a malformed one', () => {
      const off = webhookChannelFactory({ settings: channelSettings({}), db: stack.db });
      expect(off.report).toBe('webhook: off (HERALD_SECRET_KEY is not set)');
      expect(() =>
        webhookChannelFactory({ settings: channelSettings({ HERALD_SECRET_KEY: 'abc' }), db: stack.db }),
      ).toThrow(/HERALD_SECRET_KEY: must be 32 bytes/);
    });

    it('checks the URL again (here: a worker that does not allow loopback), and stops at a disabled endpoint', async () => {
      const recipient = await newRecipient();
      const hook = receiver.route({ status: 200 });
      const endpoint = await register({ url: hook.url, recipient });
      const strict = webhookChannelFactory({
        settings: channelSettings({ HERALD_SECRET_KEY: SECRET_KEY, HERALD_ALLOW_LOOPBACK_URLS: 'false' }),
        db: stack.db,
      });
      try {
        const t = target({
          recipientKey: recipient,
          externalId: recipient,
          address: `webhook:${endpoint.id}`,
        });
        const refused = await failureOf(strict, t);
        // http to 127.0.0.1: refused for the scheme or for the address, either way for good.
        expect(refused).toEqual({ kind: 'permanent', reason: expect.stringMatching(/^URL refused: /) });

        await stack.db.query(
          "UPDATE webhook_endpoints SET disabled_at = now(), disabled_reason = 'by a test' WHERE id = $1",
          [endpoint.id],
        );
        expect(await failureOf(strict, t)).toEqual({
          kind: 'permanent',
          reason: 'endpoint disabled (by a test)',
        });
        const removed = target({ recipientKey: `webhook:${endpoint.id}`, externalId: null });
        await stack.api('DELETE', `/v1/webhook-endpoints/${endpoint.id}`);
        expect(await failureOf(strict, removed)).toEqual({
          kind: 'permanent',
          reason: 'endpoint no longer registered',
        });
        expect(hook.requests()).toHaveLength(0);
      } finally {
        await strict.close();
      }
    });

    it('gives up on a receiver that does not answer in time, as a temporary failure', async () => {
      const recipient = await newRecipient();
      const hook = receiver.route({ status: 200, delayMs: 3_000 });
      const endpoint = await register({ url: hook.url, recipient });
      const impatient = webhookChannelFactory({
        settings: channelSettings({
          HERALD_SECRET_KEY: SECRET_KEY,
          HERALD_ALLOW_LOOPBACK_URLS: 'true',
          WEBHOOK_TIMEOUT_MS: '300',
        }),
        db: stack.db,
      });
      try {
        const t = target({
          recipientKey: recipient,
          externalId: recipient,
          address: `webhook:${endpoint.id}`,
        });
        expect(await failureOf(impatient, t)).toEqual({
          kind: 'transient',
          reason: 'no answer within 300 ms',
        });
        expect(hook.requests()).toHaveLength(1);
      } finally {
        await impatient.close();
      }
    });

    it('uses the push title and body for Slack when an event has no SMS text, and says so when it has neither', async () => {
      const templates = await TemplateRegistry.load();
      const context = {
        data: { ticketId: '1', title: 'A & B' },
        recipient: { name: null, email: null, externalId: null },
        brand: { name: 'Herald' },
        notification: { id: 'n', event: 'ticket.assigned', priority: 'normal' },
      };
      const push = renderSlackText(
        Object.assign(Object.create(templates) as TemplateRegistry, {
          supports: (_e: string, channel: string) => channel !== 'sms',
        }),
        'ticket.assigned',
        context,
      );
      expect(push.slackText).toMatch(/^\*.+\*\n.*A &amp; B/s);
      const neither = renderSlackText(
        Object.assign(Object.create(templates) as TemplateRegistry, { supports: () => false }),
        'ticket.assigned',
        context,
      );
      expect(neither).toEqual({
        slackText: null,
        slackTextProblem: 'ticket.assigned has no sms or push variant',
      });
    });
  });
});

describe('webhook building blocks', () => {
  it('reads Retry-After as seconds or an HTTP date, ignoring garbage and the past, capped at an hour', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(parseRetryAfter('1', now)).toBe(1000);
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Tue, 01 Jan 2030 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Mon, 31 Dec 2029 23:00:00 GMT', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('999999', now)).toBe(60 * 60_000);
  });

  it('treats only 2xx as success; 3xx and other 4xx are permanent; 429/502/503/504 and other 5xx retry', () => {
    const answer = (status: number, more: { location?: string; retryAfter?: string } = {}) =>
      classifyResponse({
        status,
        location: more.location ?? null,
        retryAfter: more.retryAfter ?? null,
        snippet: '',
      });
    expect(answer(200).kind).toBe('success');
    expect(answer(299).kind).toBe('success');
    expect(answer(301, { location: 'https://x.example/' })).toEqual({
      kind: 'failure',
      failure: { kind: 'permanent', reason: 'HTTP 301: redirect to https://x.example/ not followed' },
    });
    expect(answer(304)).toMatchObject({ failure: { kind: 'permanent' } });
    expect(answer(410)).toMatchObject({ kind: 'gone', failure: { kind: 'permanent' } });
    expect(answer(400)).toMatchObject({ failure: { kind: 'permanent', reason: 'HTTP 400' } });
    expect(answer(404)).toMatchObject({ failure: { kind: 'permanent' } });
    for (const status of [429, 502, 503, 504]) {
      expect(answer(status, { retryAfter: '7' })).toEqual({
        kind: 'failure',
        failure: { kind: 'transient', reason: `HTTP ${status} (retry after 7 s)`, retryAfterMs: 7000 },
      });
    }
    expect(answer(500)).toEqual({ kind: 'failure', failure: { kind: 'transient', reason: 'HTTP 500' } });
    // Retry-After on an answer that does not invite a retry changes nothing.
    expect(answer(400, { retryAfter: '7' })).toMatchObject({ failure: { kind: 'permanent' } });
  });

  it('seals secrets with AES-256-GCM: fresh IV each time, tampering and other keys fail, keys are checked', () => {
    const key = decodeSecretKey(SECRET_KEY);
    const hexKey = decodeSecretKey(key.toString('hex'));
    expect(hexKey.equals(key)).toBe(true);
    const sealed = sealSecret('whsec_abc', key);
    // v2: under the key derived for sealing (common/key-derivation.ts), not the raw HERALD_SECRET_KEY.
    expect(sealed).toMatch(/^v2:/);
    expect(sealSecret('whsec_abc', key)).not.toBe(sealed);
    expect(openSecret(sealed, key)).toBe('whsec_abc');
    const bytes = Buffer.from(sealed.slice(3), 'base64url');
    bytes[14]! ^= 1;
    expect(() => openSecret(`v2:${bytes.toString('base64url')}`, key)).toThrow(
      /HERALD_SECRET_KEY or altered/,
    );
    expect(() => openSecret(sealed, randomBytes(32))).toThrow(/HERALD_SECRET_KEY or altered/);
    expect(secretKeyIfSet({})).toBeUndefined();
    expect(secretKeyIfSet({ HERALD_SECRET_KEY: SECRET_KEY })!.equals(key)).toBe(true);
    expect(() => secretKeyIfSet({ HERALD_SECRET_KEY: randomBytes(16).toString('base64') })).toThrow(
      /HERALD_SECRET_KEY must be 32 bytes/,
    );
  });
});
