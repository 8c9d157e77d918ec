import { channelSettings } from '../activities/channels/settings';
import { randomBytes } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import type { Pool } from 'pg';
import webpush from 'web-push';
import { pushChannelFactory } from '../activities/channels/push';
import { TemplateRegistry } from '../templates/registry';
import { startFakeDns, type FakeDnsServer } from './support/dns-server';
import {
  decrypt,
  expectValidVapid,
  newDevice,
  startPushService,
  vapid,
  VAPID_SUBJECT,
  type Device,
  type PushService,
} from './support/push-service';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';

describe('web push through a loopback push service', () => {
  let stack: Stack;
  let service: PushService;
  let dns: FakeDnsServer;
  let templates: TemplateRegistry;

  beforeAll(async () => {
    dns = await startFakeDns({ 'private.herald.test': { A: ['10.1.2.3'] } });
    service = await startPushService();
    templates = await TemplateRegistry.load();
    stack = await startStack({
      channelEnv: {
        VAPID_PUBLIC_KEY: vapid.publicKey,
        VAPID_PRIVATE_KEY: vapid.privateKey,
        VAPID_SUBJECT,
        HERALD_ALLOW_LOOPBACK_URLS: 'true',
        HERALD_DNS_SERVERS: dns.address,
      },
      apiEnv: {
        VAPID_PUBLIC_KEY: vapid.publicKey,
        HERALD_ALLOW_LOOPBACK_URLS: 'true',
        HERALD_DNS_SERVERS: dns.address,
      },
    });
  });
  afterAll(async () => {
    await stack.close();
    await service.close();
    await dns.close();
  });

  async function newRecipient(name = 'Tendai Moyo'): Promise<string> {
    const id = uniq('push');
    expect((await stack.api('PUT', `/v1/recipients/${id}`, { name })).status).toBe(201);
    return id;
  }

  async function subscribe(externalId: string, endpoint = `${service.origin}/push/${uniq('sub')}`) {
    const device = newDevice(endpoint);
    const answer = await stack.api('POST', `/v1/recipients/${externalId}/push-subscriptions`, device.json);
    expect(answer.status).toBe(201);
    return device;
  }

  /** Sends ticket.assigned by push only and returns the finished notification and its one delivery. */
  async function notify(externalId: string, priority = 'normal', data: Record<string, unknown> = {}) {
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { recipients: [externalId] },
      channels: ['push'],
      priority,
      data: { ticketId: '123', title: 'Printer not working', priority: 'High', ...data },
    });
    expect(created.status).toBe(202);
    const view = await waitForNotification(stack, created.body.id, 30_000);
    expect(view.recipients).toHaveLength(1);
    expect(view.recipients[0].deliveries).toHaveLength(1);
    return { id: created.body.id as string, view, delivery: view.recipients[0].deliveries[0] };
  }

  const pathOf = (device: Device) => new URL(device.endpoint).pathname;
  const subscriptionRows = async (endpoint: string) =>
    (await stack.db.query('SELECT * FROM push_subscriptions WHERE endpoint = $1', [endpoint])).rows;

  it('serves the VAPID public key and documents the routes', async () => {
    expect(await stack.api('GET', '/v1/push/public-key')).toMatchObject({
      status: 200,
      body: { publicKey: vapid.publicKey },
    });
    const doc = await stack.api('GET', '/openapi.json');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/v1/push/public-key', '/v1/recipients/{externalId}/push-subscriptions']),
    );
  });

  it('sends to every subscription: VAPID verifies, the body decrypts to the rendered card, headers follow priority', async () => {
    const externalId = await newRecipient();
    const phone = await subscribe(externalId);
    const laptop = newDevice(`${service.origin}/push/${uniq('laptop')}`);
    const first = await stack.api('POST', `/v1/recipients/${externalId}/push-subscriptions`, laptop.json, {
      'user-agent': 'Firefox/130',
    });
    expect(first.status).toBe(201);
    expect(first.body).toEqual({
      id: expect.any(String),
      externalId,
      endpoint: laptop.endpoint,
      userAgent: 'Firefox/130',
      createdAt: expect.any(String),
      lastUsedAt: null,
    });
    // The same subscription again (a page reload) updates it.
    const again = await stack.api('POST', `/v1/recipients/${externalId}/push-subscriptions`, {
      ...laptop.json,
      userAgent: 'Firefox/131',
    });
    expect(again).toMatchObject({ status: 200, body: { id: first.body.id, userAgent: 'Firefox/131' } });

    const data = { url: 'https://helpdesk.example.com/tickets/123', assignee: 'Tendai Moyo' };
    const { id, view, delivery } = await notify(externalId, 'high', data);
    expect(view.status).toBe('completed');
    expect(delivery).toMatchObject({ channel: 'push', status: 'sent', attempts: 1, error: null });

    const card = templates.renderPush('ticket.assigned', {
      data: { ticketId: '123', title: 'Printer not working', priority: 'High', ...data },
      recipient: { name: 'Tendai Moyo', email: null, externalId },
      brand: { name: 'Herald Test' },
      notification: { id, event: 'ticket.assigned', priority: 'high' },
    });
    expect(card.title).toBe('#123 assigned: Printer not working');
    const topics = new Set<string>();
    for (const device of [phone, laptop]) {
      const requests = service.requestsTo(pathOf(device));
      expect(requests).toHaveLength(1);
      const request = requests[0]!;
      expectValidVapid(request.headers.authorization, service.origin);
      expect(decrypt(request, device)).toEqual({ ...card, tag: `${id}:${externalId}` });
      expect(request.headers).toMatchObject({ ttl: '86400', urgency: 'high' });
      expect(request.headers.topic).toMatch(/^[A-Za-z0-9_-]{1,32}$/);
      topics.add(request.headers.topic as string);
    }
    // One delivery, one topic: a second copy replaces the first on the device.
    expect(topics.size).toBe(1);
    // The first subscription's push service message (its Location header) identifies the delivery.
    expect(delivery.providerMessageId).toMatch(
      new RegExp(`^https://push\\.example/messages${pathOf(phone)}/\\d+$`),
    );
    const rows = await stack.db.query('SELECT last_used_at FROM push_subscriptions WHERE external_id = $1', [
      externalId,
    ]);
    expect(rows.rows).toHaveLength(2);
    for (const row of rows.rows) expect(row.last_used_at).toBeInstanceOf(Date);
  });

  it.each([
    ['low', '14400', 'low'],
    ['normal', '43200', 'normal'],
    ['critical', '86400', 'high'],
  ])('a %s notification is sent with TTL %s and Urgency %s', async (priority, ttl, urgency) => {
    const externalId = await newRecipient();
    const device = await subscribe(externalId);
    const { delivery } = await notify(externalId, priority);
    expect(delivery.status).toBe('sent');
    expect(service.requestsTo(pathOf(device))[0]!.headers).toMatchObject({ ttl, urgency });
  });

  it('removes a subscription the push service says is gone (410), and fails the delivery without retrying', async () => {
    const externalId = await newRecipient();
    const device = await subscribe(externalId);
    service.script(pathOf(device), [{ status: 410 }]);
    const { view, delivery } = await notify(externalId);
    expect(view.status).toBe('failed');
    expect(delivery).toMatchObject({ status: 'failed', attempts: 1 });
    expect(delivery.error).toMatch(/push service answered 410; subscription removed/);
    expect(service.requestsTo(pathOf(device))).toHaveLength(1);
    expect(await subscriptionRows(device.endpoint)).toEqual([]);
  });

  it('succeeds when one subscription is accepted and another is gone (404), removing only the gone one', async () => {
    const externalId = await newRecipient();
    const gone = await subscribe(externalId);
    const alive = await subscribe(externalId);
    service.script(pathOf(gone), [{ status: 404 }]);
    const { delivery } = await notify(externalId);
    expect(delivery).toMatchObject({ status: 'sent', attempts: 1 });
    expect(await subscriptionRows(gone.endpoint)).toEqual([]);
    expect(await subscriptionRows(alive.endpoint)).toHaveLength(1);
  });

  it('retries after 429 as Retry-After says, then delivers', async () => {
    const externalId = await newRecipient();
    const device = await subscribe(externalId);
    service.script(pathOf(device), [{ status: 429, headers: { 'retry-after': '1' } }]);
    const { view, delivery } = await notify(externalId);
    expect(view.status).toBe('completed');
    expect(delivery).toMatchObject({ status: 'sent', attempts: 2 });
    const [first, second] = service.requestsTo(pathOf(device));
    expect(second).toBeDefined();
    // The retry policy alone would come back after 200 ms; Retry-After asked for a second.
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
    expect(second!.headers.topic).toBe(first!.headers.topic);
    expect(decrypt(second!, device)).toEqual(decrypt(first!, device));
  });

  it('does not follow a redirect from the push service', async () => {
    const externalId = await newRecipient();
    const device = await subscribe(externalId);
    const elsewhere = `/push/${uniq('elsewhere')}`;
    service.script(pathOf(device), [{ status: 307, headers: { location: `${service.origin}${elsewhere}` } }]);
    const { delivery } = await notify(externalId);
    expect(delivery).toMatchObject({ status: 'failed', attempts: 1 });
    expect(delivery.error).toMatch(/answered 307: redirect to .* not followed/);
    expect(service.requestsTo(elsewhere)).toEqual([]);
    expect(await subscriptionRows(device.endpoint)).toHaveLength(1);
  });

  it('fails a payload larger than 3993 bytes before sending anything', async () => {
    const externalId = await newRecipient();
    const device = await subscribe(externalId);
    const { delivery } = await notify(externalId, 'normal', {
      url: `https://helpdesk.example.com/${'a'.repeat(4000)}`,
    });
    expect(delivery).toMatchObject({ status: 'failed', attempts: 1 });
    expect(delivery.error).toMatch(/push payload is \d+ bytes, more than the 3993/);
    expect(service.requestsTo(pathOf(device))).toEqual([]);
  });

  it('checks the endpoint again at send time: a name that now resolves to a private address is refused', async () => {
    const externalId = await newRecipient();
    dns.set('rebind.herald.test', { A: ['93.184.216.34'] });
    const endpoint = `https://rebind.herald.test/push/${uniq('r')}`;
    await subscribe(externalId, endpoint);
    dns.set('rebind.herald.test', { A: ['10.9.8.7'] });
    const { delivery } = await notify(externalId);
    expect(delivery).toMatchObject({ status: 'failed', attempts: 1 });
    expect(delivery.error).toBe(
      'endpoint refused: rebind.herald.test resolves to 10.9.8.7, a private address',
    );
  });

  it('answers 404 for an unknown recipient and 400 for malformed keys, and unsubscribes by endpoint', async () => {
    const device = newDevice(`${service.origin}/push/${uniq('api')}`);
    const unknown = await stack.api(
      'POST',
      `/v1/recipients/${uniq('nobody')}/push-subscriptions`,
      device.json,
    );
    expect(unknown.status).toBe(404);

    const externalId = await newRecipient();
    const url = `/v1/recipients/${externalId}/push-subscriptions`;
    const offCurve = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]).toString('base64url');
    for (const [keys, path] of [
      [
        { ...device.json.keys, p256dh: device.ecdh.getPublicKey().subarray(0, 64).toString('base64url') },
        'keys.p256dh',
      ],
      [{ ...device.json.keys, p256dh: offCurve }, 'keys.p256dh'],
      [{ ...device.json.keys, p256dh: 'not base64!' }, 'keys.p256dh'],
      [{ ...device.json.keys, auth: randomBytes(15).toString('base64url') }, 'keys.auth'],
      [{ p256dh: device.json.keys.p256dh }, 'keys.auth'],
    ] as const) {
      const answer = await stack.api('POST', url, { ...device.json, keys });
      expect(answer.status).toBe(400);
      expect(answer.body.error.details).toEqual([expect.objectContaining({ path })]);
    }
    // Loopback is allowed on this stack (development), private addresses never are.
    const refused = await stack.api('POST', url, {
      ...device.json,
      endpoint: 'https://private.herald.test/p',
    });
    expect(refused.status).toBe(422);

    expect((await stack.api('POST', url, device.json)).status).toBe(201);
    // An endpoint registered again by someone else moves to them.
    const other = await newRecipient('Other');
    expect((await stack.api('POST', `/v1/recipients/${other}/push-subscriptions`, device.json)).status).toBe(
      200,
    );
    expect((await subscriptionRows(device.endpoint))[0].external_id).toBe(other);
    expect((await stack.api('DELETE', url, { endpoint: device.endpoint })).status).toBe(404);
    const otherUrl = `/v1/recipients/${other}/push-subscriptions`;
    expect((await stack.api('DELETE', otherUrl, { endpoint: device.endpoint })).status).toBe(204);
    expect(await subscriptionRows(device.endpoint)).toEqual([]);

    expect((await stack.api('POST', url, device.json)).status).toBe(201);
    const byQuery = await stack.api('DELETE', `${url}?endpoint=${encodeURIComponent(device.endpoint)}`);
    expect(byQuery.status).toBe(204);
    expect(await subscriptionRows(device.endpoint)).toEqual([]);
    expect((await stack.api('DELETE', url)).body.error.details).toEqual([
      expect.objectContaining({ path: 'endpoint' }),
    ]);
  });
});

describe('push subscription endpoints are refused before anything connects (production settings)', () => {
  let stack: Stack;
  let dns: FakeDnsServer;
  let canary: net.Server;
  let connections = 0;

  beforeAll(async () => {
    canary = net.createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
    dns = await startFakeDns({
      'private.herald.test': { A: ['10.1.2.3'] },
      'loopback.herald.test': { A: ['127.0.0.1'] },
    });
    stack = await startStack({
      worker: false,
      apiEnv: { HERALD_ALLOW_LOOPBACK_URLS: 'false', HERALD_DNS_SERVERS: dns.address },
    });
  });
  afterAll(async () => {
    await stack.close();
    await dns.close();
    await new Promise<void>((resolve) => canary.close(() => resolve()));
  });

  it('refuses http, loopback, link-local, mapped, odd-notation and privately resolving endpoints with 422', async () => {
    const port = (canary.address() as AddressInfo).port;
    const externalId = uniq('refusals');
    expect((await stack.api('PUT', `/v1/recipients/${externalId}`, { name: 'R' })).status).toBe(201);
    const device = newDevice('unused');
    const endpoints = [
      'http://example.com/x',
      `http://127.0.0.1:${port}/x`,
      `https://127.0.0.1:${port}/x`,
      `https://[::1]:${port}/x`,
      'https://169.254.169.254/x',
      `https://[::ffff:127.0.0.1]:${port}/x`,
      `https://2130706433:${port}/x`,
      `https://private.herald.test:${port}/x`,
      `https://loopback.herald.test:${port}/x`,
    ];
    for (const endpoint of endpoints) {
      const answer = await stack.api('POST', `/v1/recipients/${externalId}/push-subscriptions`, {
        ...device.json,
        endpoint,
      });
      expect({ endpoint, status: answer.status }).toEqual({ endpoint, status: 422 });
      expect(answer.body.error).toMatchObject({
        code: 'validation_failed',
        details: [{ path: 'endpoint', message: expect.any(String) }],
      });
    }
    expect(
      (await stack.db.query('SELECT 1 FROM push_subscriptions WHERE external_id = $1', [externalId])).rows,
    ).toEqual([]);
    expect(dns.queries()).toEqual(
      expect.arrayContaining(['private.herald.test A', 'loopback.herald.test A']),
    );
    expect(connections).toBe(0);
  });

  it('answers 503 naming VAPID_PUBLIC_KEY when web push is not configured', async () => {
    const answer = await stack.api('GET', '/v1/push/public-key');
    expect(answer.status).toBe(503);
    expect(answer.body.error.details).toEqual([expect.objectContaining({ path: 'VAPID_PUBLIC_KEY' })]);
  });
});

describe('the push channel at start', () => {
  const db = {} as Pool;
  it('is off, naming the missing settings, without VAPID keys', () => {
    expect(
      pushChannelFactory({
        settings: channelSettings({ VAPID_SUBJECT, VAPID_PUBLIC_KEY: vapid.publicKey }),
        db,
      }).report,
    ).toBe('push: off (VAPID_PRIVATE_KEY is not set)');
    expect(pushChannelFactory({ settings: channelSettings({}), db }).report).toBe(
      'push: off (VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_SUBJECT are not set)',
    );
  });

  it('refuses to start with keys that are malformed or not a pair', () => {
    const other = webpush.generateVAPIDKeys();
    expect(() =>
      pushChannelFactory({
        settings: channelSettings({
          VAPID_PUBLIC_KEY: 'abc',
          VAPID_PRIVATE_KEY: vapid.privateKey,
          VAPID_SUBJECT,
        }),
        db,
      }),
    ).toThrow(/VAPID_PUBLIC_KEY: must decode to 65 bytes/);
    expect(() =>
      pushChannelFactory({
        settings: channelSettings({
          VAPID_PUBLIC_KEY: vapid.publicKey,
          VAPID_PRIVATE_KEY: other.privateKey,
          VAPID_SUBJECT,
        }),
        db,
      }),
    ).toThrow(/VAPID_PRIVATE_KEY: is not the private half of VAPID_PUBLIC_KEY/);
    expect(() =>
      pushChannelFactory({
        settings: channelSettings({
          VAPID_PUBLIC_KEY: vapid.publicKey,
          VAPID_PRIVATE_KEY: vapid.privateKey,
          VAPID_SUBJECT: 'me',
        }),
        db,
      }),
    ).toThrow(/VAPID_SUBJECT: must be a mailto: address or an https: URL/);
    const on = pushChannelFactory({
      settings: channelSettings({
        VAPID_PUBLIC_KEY: vapid.publicKey,
        VAPID_PRIVATE_KEY: vapid.privateKey,
        VAPID_SUBJECT,
      }),
      db,
    });
    expect(on.report).toBe(`push: on (VAPID ${VAPID_SUBJECT})`);
    void on.close();
  });
});
