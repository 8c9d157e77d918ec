import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { decodeSecretKey } from '../common/secret-box';
import { recordProviderStatus } from '../db/queries/provider-status';
import { pruneStatusEvents } from '../db/queries/status-events';
import { startStatusEventDispatcher, type StatusEventDispatcher } from '../worker/status-events/dispatcher';
import { createTestTenant } from './support/auth';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';

/** What a status-event receiver got. */
interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A loopback events receiver: records every request; answers per path from a script (the last repeats). */
async function startReceiver() {
  const received: Received[] = [];
  const scripts = new Map<string, number[]>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const script = scripts.get(path) ?? [];
      const status = (script.length > 1 ? script.shift() : script[0]) ?? 200;
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status >= 300 ? 'receiver says no' : 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    /** A fresh path on this receiver (its last segment a token, as real receivers' URLs carry), answering `statuses` in turn. */
    route(...statuses: number[]) {
      const path = `/events/${uniq('tok')}`;
      scripts.set(path, statuses);
      return { url: `${base}${path}`, requests: () => received.filter((r) => r.path === path) };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The payload a receiver got, verified with the standardwebhooks package (it throws on a bad signature). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function verified(secret: string, r: Received): any {
  return new Webhook(secret).verify(r.body, {
    'webhook-id': String(r.headers['webhook-id']),
    'webhook-timestamp': String(r.headers['webhook-timestamp']),
    'webhook-signature': String(r.headers['webhook-signature']),
  });
}

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The SMTP sink refuses `nouser-…` addresses with 550, as test/smtp-failures.test.ts's does. */
const sink = {
  onRcpt: (address: string) =>
    address.startsWith('nouser-') ? { code: 550, message: '5.1.1 No such user here' } : undefined,
};

describe('status events to backends', () => {
  let stack: Stack;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  /** Two dispatchers, as two worker processes would run: every event must still go out once. */
  let dispatchers: StatusEventDispatcher[] = [];
  /** Every response body an endpoint route gave, to check that no secret is in any of them. */
  const answers: string[] = [];
  const api = async (method: string, path: string, body?: unknown, headers?: Record<string, string>) => {
    const response = await stack.api(method, path, body, headers);
    answers.push(JSON.stringify(response.body));
    return response;
  };
  const register = async (body: Record<string, unknown>) => {
    const created = await api('POST', '/v1/event-endpoints', body);
    expect(created.status).toBe(201);
    return created.body as {
      id: string;
      secret: string;
      secrets: string[];
      url: string;
      types: string[] | null;
    };
  };
  const sendEmail = async (emails: string[], extra: Record<string, unknown> = {}) => {
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'test_email',
      to: { emails },
      ...extra,
    });
    expect(created.status).toBe(202);
    return created.body.id as string;
  };
  const secrets: string[] = [];

  beforeAll(async () => {
    receiver = await startReceiver();
    stack = await startStack({ sink, apiEnv: { HERALD_ALLOW_LOOPBACK_URLS: 'true' } });
    // The worker's dispatcher, as worker/main.ts starts it, with test-sized backoff.
    const start = () =>
      startStatusEventDispatcher({
        db: stack.db,
        secretKey: decodeSecretKey(stack.config.HERALD_SECRET_KEY!),
        urlPolicy: { allowLoopback: true },
        log: { warn: () => undefined, error: (...args: unknown[]) => console.error(...args) },
        pollMs: 100,
        batchSize: 10,
        timeoutMs: 5_000,
        retry: { initialMs: 300, maxMs: 1_000, maxAttempts: 5 },
        retentionDays: 30,
      });
    dispatchers = [start(), start()];
  });
  afterAll(async () => {
    await Promise.all(dispatchers.map((d) => d.stop()));
    await stack?.close();
    await receiver?.close();
  });

  it('delivers delivery.sent, delivery.failed (a 550) and notification.completed, signed, with the payload', async () => {
    const route = receiver.route(200);
    const endpoint = await register({ url: route.url, description: 'all types' });
    secrets.push(endpoint.secret);
    expect(endpoint.secret).toMatch(/^whsec_/);
    expect(endpoint.secrets).toEqual([`whsec_…${endpoint.secret.slice(-4)}`]);
    expect(endpoint.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/events\/\*\*\*\*$/);
    expect(endpoint.types).toBeNull();

    const good = `${uniq('good')}@example.com`;
    const bad = `${uniq('nouser')}@example.com`;
    const idempotencyKey = uniq('key');
    const id = await sendEmail([good, bad], { idempotencyKey });
    expect((await waitForNotification(stack, id)).status).toBe('completed');

    const events = () => route.requests().map((r) => ({ r, payload: verified(endpoint.secret, r) }));
    await until('three events', () => events().length >= 3);
    // Two dispatchers share the outbox: nothing is sent twice.
    await new Promise((r) => setTimeout(r, 500));
    const got = events();
    expect(got).toHaveLength(3);
    expect(got.map((e) => e.payload.type).sort()).toEqual([
      'delivery.failed',
      'delivery.sent',
      'notification.completed',
    ]);
    const byType = Object.fromEntries(got.map((e) => [e.payload.type, e]));
    expect(byType['delivery.sent']!.payload).toMatchObject({
      type: 'delivery.sent',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      data: {
        notificationId: id,
        idempotencyKey,
        event: 'test_email',
        deliveryId: expect.stringMatching(/^\d+$/),
        channel: 'email',
        recipient: `email:${good}`,
        status: 'sent',
      },
    });
    expect(byType['delivery.sent']!.payload.data.reason).toBeUndefined();
    expect(byType['delivery.failed']!.payload.data).toMatchObject({
      recipient: `email:${bad}`,
      status: 'failed',
      reason: expect.stringMatching(/^SMTP 550: .*No such user here/),
    });
    expect(byType['notification.completed']!.payload.data).toEqual({
      notificationId: id,
      idempotencyKey,
      event: 'test_email',
      status: 'completed',
    });
    // One webhook-id per event, each its own.
    expect(new Set(got.map((e) => e.r.headers['webhook-id'])).size).toBe(3);
    for (const { r } of got) expect(r.headers['webhook-id']).toMatch(/^msg_[0-9a-f]{32}$/);
    // A signature made with another secret does not verify: the check above is a real one.
    expect(() => verified(`whsec_${Buffer.alloc(32, 7).toString('base64')}`, got[0]!.r)).toThrow();

    const history = await api('GET', `/v1/event-endpoints/${endpoint.id}/deliveries`);
    expect(history.status).toBe(200);
    expect(history.body.items).toHaveLength(3);
    for (const item of history.body.items) {
      expect(item).toMatchObject({ state: 'delivered', notificationId: id, nextAttemptAt: null });
      expect(item.attempts).toEqual([
        {
          at: expect.any(String),
          durationMs: expect.any(Number),
          httpStatus: 200,
          error: null,
          nextAttemptAt: null,
        },
      ]);
    }
    // Paged, newest first.
    const first = await api('GET', `/v1/event-endpoints/${endpoint.id}/deliveries?limit=2`);
    expect(first.body.items).toHaveLength(2);
    const rest = await api(
      'GET',
      `/v1/event-endpoints/${endpoint.id}/deliveries?limit=2&cursor=${first.body.nextCursor}`,
    );
    expect(rest.body.items).toHaveLength(1);
    expect(rest.body.nextCursor).toBeNull();
    expect([...first.body.items, ...rest.body.items].map((i: { eventId: string }) => i.eventId)).toEqual(
      history.body.items.map((i: { eventId: string }) => i.eventId),
    );

    // A provider's callbacks (as POST /v1/twilio/status records them) become delivery.delivered and delivery.read.
    const sent = byType['delivery.sent']!.payload.data;
    const { rows } = await stack.db.query<{ provider_message_id: string }>(
      'SELECT provider_message_id FROM deliveries WHERE id = $1',
      [sent.deliveryId],
    );
    const providerMessageId = rows[0]!.provider_message_id;
    for (const status of ['delivered', 'read', 'read'])
      await recordProviderStatus(stack.db, { channel: 'email', providerMessageId, status });
    await until('the callbacks’ events', () => route.requests().length >= 5);
    await new Promise((r) => setTimeout(r, 300));
    const later = events().slice(3);
    // Events are not ordered (a batch goes out at once), and the replayed `read` is no second event.
    expect(later.map((e) => e.payload.type).sort()).toEqual(['delivery.delivered', 'delivery.read']);
    for (const e of later)
      expect(e.payload.data).toMatchObject({ deliveryId: sent.deliveryId, status: 'delivered' });
    await api('DELETE', `/v1/event-endpoints/${endpoint.id}`);
  });

  it('retries a receiver that fails twice with the same webhook-id; the history shows 3 attempts; replay resends', async () => {
    const route = receiver.route(500, 500, 200);
    const endpoint = await register({ url: route.url, types: ['notification.completed'] });
    secrets.push(endpoint.secret);
    const id = await sendEmail([`${uniq('ok')}@example.com`]);
    await waitForNotification(stack, id);

    await until('the third attempt', () => route.requests().length >= 3);
    const requests = route.requests();
    const ids = new Set(requests.map((r) => r.headers['webhook-id']));
    expect(ids.size).toBe(1);
    // Each attempt is signed afresh and verifies; the body is the same every time.
    for (const r of requests) expect(verified(endpoint.secret, r).type).toBe('notification.completed');
    expect(new Set(requests.map((r) => r.body)).size).toBe(1);

    const page = await pollHistory(endpoint.id, (items) => items[0]?.state === 'delivered');
    expect(page).toHaveLength(1);
    const [item] = page;
    expect(item).toMatchObject({
      type: 'notification.completed',
      notificationId: id,
      state: 'delivered',
      webhookId: [...ids][0],
      payload: JSON.parse(requests[0]!.body),
    });
    expect(item.attempts.map((a: { httpStatus: number }) => a.httpStatus)).toEqual([500, 500, 200]);
    expect(item.attempts[0].error).toMatch(/^HTTP 500/);
    expect(item.attempts[0].nextAttemptAt).toEqual(expect.any(String));
    expect(item.attempts[1].nextAttemptAt).toEqual(expect.any(String));
    expect(item.attempts[2]).toMatchObject({ error: null, nextAttemptAt: null });
    // The backoff doubles: the second wait is the longer.
    const at = item.attempts.map((a: { at: string }) => Date.parse(a.at));
    expect(at[2] - at[1]).toBeGreaterThanOrEqual(at[1] - at[0] - 50);

    const replay = await api('POST', `/v1/event-endpoints/${endpoint.id}/deliveries/${item.eventId}/replay`);
    expect(replay.status).toBe(202);
    expect(replay.body).toMatchObject({ eventId: item.eventId, state: 'pending' });
    await until('the replay', () => route.requests().length >= 4);
    const again = route.requests()[3]!;
    expect(again.headers['webhook-id']).toBe(item.webhookId);
    expect(again.body).toBe(requests[0]!.body);
    expect(verified(endpoint.secret, again).data.notificationId).toBe(id);
    const after = await pollHistory(endpoint.id, (items) => items[0]?.attempts.length === 4);
    expect(after[0].state).toBe('delivered');
    // Only notification.completed was asked for.
    expect(route.requests().every((r) => JSON.parse(r.body).type === 'notification.completed')).toBe(true);

    const unknown = await api(
      'POST',
      `/v1/event-endpoints/${endpoint.id}/deliveries/0b8a5d2e-6f1c-4a3b-9c7d-2e4f6a8b0c1d/replay`,
    );
    expect(unknown.status).toBe(404);
    await api('DELETE', `/v1/event-endpoints/${endpoint.id}`);
  });

  it('an acknowledgement becomes notification.acknowledged', async () => {
    const route = receiver.route(200);
    const endpoint = await register({
      url: route.url,
      types: ['notification.acknowledged', 'notification.completed'],
    });
    const person = uniq('tech');
    await stack.api('PUT', `/v1/recipients/${person}`, { name: 'Tech', email: `${person}@example.com` });
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'test_email',
      to: { recipients: [person] },
      escalation: { levels: [{ afterSeconds: 600, recipients: [person] }] },
    });
    expect(created.status).toBe(202);
    const id = created.body.id as string;
    await until('the first mail', () =>
      stack.sink.messages().some((m) => m.envelopeTo.includes(`${person}@example.com`)),
    );
    let acked;
    for (let i = 0; i < 100; i++) {
      acked = await stack.api('POST', `/v1/notifications/${id}/ack`, { by: person });
      if (acked.status === 200 && acked.body.accepted) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(acked!.body.accepted).toBe(true);
    await waitForNotification(stack, id);
    await until('both events', () => route.requests().length >= 2);
    const payloads = route.requests().map((r) => verified(endpoint.secret, r));
    const ack = payloads.find((p) => p.type === 'notification.acknowledged');
    expect(ack.data).toEqual({
      notificationId: id,
      event: 'test_email',
      status: 'acknowledged',
      acknowledgedBy: person,
    });
    expect(payloads.map((p) => p.type)).toContain('notification.completed');
    await api('DELETE', `/v1/event-endpoints/${endpoint.id}`);
  });

  it('a cancel becomes notification.cancelled; a person without an address, delivery.suppressed', async () => {
    const route = receiver.route(200);
    const endpoint = await register({
      url: route.url,
      types: ['notification.cancelled', 'delivery.suppressed', 'notification.completed'],
    });
    const person = uniq('tech');
    const nobody = uniq('no-email');
    await stack.api('PUT', `/v1/recipients/${person}`, { name: 'Tech', email: `${person}@example.com` });
    await stack.api('PUT', `/v1/recipients/${nobody}`, { name: 'No email' });
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'test_email',
      to: { recipients: [person, nobody] },
      escalation: { levels: [{ afterSeconds: 600, recipients: [person] }] },
    });
    const id = created.body.id as string;
    await until('the first mail', () =>
      stack.sink.messages().some((m) => m.envelopeTo.includes(`${person}@example.com`)),
    );
    let cancelled;
    for (let i = 0; i < 100; i++) {
      cancelled = await stack.api('POST', `/v1/notifications/${id}/cancel`);
      if (cancelled.status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(cancelled!.status).toBe(200);
    expect((await waitForNotification(stack, id)).status).toBe('cancelled');
    await until('both events', () => route.requests().length >= 2);
    await new Promise((r) => setTimeout(r, 300));
    const payloads = route.requests().map((r) => verified(endpoint.secret, r));
    expect(payloads.map((p) => p.type).sort()).toEqual(['delivery.suppressed', 'notification.cancelled']);
    expect(payloads.find((p) => p.type === 'delivery.suppressed').data).toMatchObject({
      notificationId: id,
      recipient: nobody,
      channel: 'email',
      status: 'skipped',
      reason: 'no email address',
    });
    await api('DELETE', `/v1/event-endpoints/${endpoint.id}`);
  });

  it('refuses bad input, naming the field', async () => {
    const malformed = await api('POST', '/v1/event-endpoints', { url: 'not a url' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.details.map((d: { path: string }) => d.path)).toContain('url');
    const privateUrl = await api('POST', '/v1/event-endpoints', { url: 'http://10.1.2.3/hook' });
    expect(privateUrl.status).toBe(422);
    expect(privateUrl.body.error.details[0].path).toBe('url');
    const badType = await api('POST', '/v1/event-endpoints', {
      url: receiver.route(200).url,
      types: ['delivery.exploded'],
    });
    expect(badType.status).toBe(400);
    expect(badType.body.error.details[0].path).toMatch(/^types/);
    const shortSecret = await api('POST', '/v1/event-endpoints', {
      url: receiver.route(200).url,
      secret: 'whsec_c2hvcnQ=',
    });
    expect(shortSecret.status).toBe(400);
    expect(shortSecret.body.error.details[0].path).toBe('secret');
    const endpoint = await register({ url: receiver.route(200).url, types: ['delivery.read'] });
    const badCursor = await api('GET', `/v1/event-endpoints/${endpoint.id}/deliveries?cursor=nonsense`);
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.error.details[0].path).toBe('cursor');
    const badId = await api('GET', '/v1/event-endpoints/not-a-uuid');
    expect(badId.status).toBe(400);
    expect(badId.body.error.details[0].path).toBe('id');
    await api('DELETE', `/v1/event-endpoints/${endpoint.id}`);
  });

  it('rotates the secret (both sign meanwhile), and shows secrets masked in every answer', async () => {
    const route = receiver.route(200);
    const endpoint = await register({ url: route.url, types: ['delivery.sent'] });
    const rotated = await api('POST', `/v1/event-endpoints/${endpoint.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    const next = rotated.body.secret as string;
    secrets.push(endpoint.secret, next);
    expect(rotated.body.secrets).toEqual([`whsec_…${next.slice(-4)}`, `whsec_…${endpoint.secret.slice(-4)}`]);
    await sendEmail([`${uniq('rot')}@example.com`]);
    await until('the event', () => route.requests().length >= 1);
    const [r] = route.requests();
    expect(verified(next, r!).type).toBe('delivery.sent');
    expect(verified(endpoint.secret, r!).type).toBe('delivery.sent');
    const trimmed = await api('DELETE', `/v1/event-endpoints/${endpoint.id}/secrets/old`);
    expect(trimmed.body.secrets).toEqual([`whsec_…${next.slice(-4)}`]);
    const list = await api('GET', '/v1/event-endpoints');
    expect(list.body.items.map((e: { id: string }) => e.id)).toContain(endpoint.id);
    await api('GET', `/v1/event-endpoints/${endpoint.id}`);
    await api('GET', `/v1/event-endpoints/${endpoint.id}/deliveries`);

    // The full secrets were in the create and rotate answers only; the URL's token never came back.
    const token = route.url.split('/').pop()!;
    const createAnswers = answers.filter((a) => a.includes('"secret":"whsec_'));
    for (const answer of answers.filter((a) => !createAnswers.includes(a))) {
      for (const secret of secrets) expect(answer).not.toContain(secret.slice(6));
    }
    for (const answer of answers) expect(answer).not.toContain(token);
    expect(answers.length).toBeGreaterThan(10);
  });

  it('another tenant cannot see, read, replay or delete the endpoint', async () => {
    const route = receiver.route(200);
    const endpoint = await register({ url: route.url });
    const other = await createTestTenant(stack.db, uniq('tenant'));
    const as = { authorization: `Bearer ${other.key}` };
    const list = await api('GET', '/v1/event-endpoints', undefined, as);
    expect(list.status).toBe(200);
    expect(list.body.items).toEqual([]);
    for (const [method, path] of [
      ['GET', `/v1/event-endpoints/${endpoint.id}`],
      ['GET', `/v1/event-endpoints/${endpoint.id}/deliveries`],
      ['POST', `/v1/event-endpoints/${endpoint.id}/rotate-secret`],
      ['POST', `/v1/event-endpoints/${endpoint.id}/deliveries/0b8a5d2e-6f1c-4a3b-9c7d-2e4f6a8b0c1d/replay`],
      ['DELETE', `/v1/event-endpoints/${endpoint.id}`],
    ] as const) {
      expect((await api(method, path, undefined, as)).status).toBe(404);
    }
    // The other tenant's notifications are no events for this endpoint.
    const theirs = await stack.api(
      'POST',
      '/v1/notifications',
      { event: 'test_email', to: { emails: [`${uniq('theirs')}@example.com`] } },
      as,
    );
    expect(theirs.status).toBe(202);
    for (let i = 0; i < 300; i++) {
      const view = await stack.api('GET', `/v1/notifications/${theirs.body.id}`, undefined, as);
      if (view.body.status === 'completed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await api('GET', `/v1/event-endpoints/${endpoint.id}`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    expect(route.requests()).toHaveLength(0);
  });

  it('deletes finished events after the retention, keeping pending ones', async () => {
    const endpoint = await register({ url: receiver.route(200).url, types: ['notification.completed'] });
    const id = await sendEmail([`${uniq('old')}@example.com`]);
    await waitForNotification(stack, id);
    const [event] = await pollHistory(endpoint.id, (items) => items[0]?.state === 'delivered');
    // Written 31 days ago; a second, pending one as old.
    await stack.db.query(
      `UPDATE status_events SET created_at = now() - interval '31 days' WHERE endpoint_id = $1`,
      [endpoint.id],
    );
    await stack.db.query(
      `INSERT INTO status_events (endpoint_id, event_id, tenant_id, type, notification_id, body, next_attempt_at, created_at)
       SELECT endpoint_id, gen_random_uuid(), tenant_id, type, notification_id, body, now() + interval '1 day', created_at
         FROM status_events WHERE endpoint_id = $1`,
      [endpoint.id],
    );
    expect(await pruneStatusEvents(stack.db, 32, 100)).toBe(0);
    await pruneStatusEvents(stack.db, 30, 1_000);
    const left = await pollHistory(endpoint.id, () => true);
    expect(left.map((i) => i.state)).toEqual(['pending']);
    expect(left[0].eventId).not.toBe(event.eventId);
    // Its attempts went with it (the same event, sent to other endpoints of the tenant, keeps theirs).
    const attempts = await stack.db.query(
      'SELECT 1 FROM status_event_attempts WHERE endpoint_id = $1 AND event_id = $2',
      [endpoint.id, event.eventId],
    );
    expect(event.attempts).toHaveLength(1);
    expect(attempts.rowCount).toBe(0);
    await api('DELETE', `/v1/event-endpoints/${endpoint.id}`);
  });

  /** The endpoint's history once `done` holds for its items. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async function pollHistory(endpointId: string, done: (items: any[]) => boolean): Promise<any[]> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const page = await api('GET', `/v1/event-endpoints/${endpointId}/deliveries`);
      expect(page.status).toBe(200);
      if (done(page.body.items) || Date.now() > deadline) return page.body.items;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});
