import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import { SEARCH_ATTRIBUTES } from '../common/temporal';
import { createTestTenant, TEST_SECRET_KEY } from './support/auth';
import { EventStream } from './support/event-stream';
import { newDevice } from './support/push-service';
import { rawRequest, startStack, uniq, type ApiResponse, type Stack } from './support/stack';

/** Everything one tenant owns in this test, by id. */
interface Tenant {
  id: string;
  key: string;
  /** A recipient only this tenant has; `shared` is an externalId both tenants use. */
  own: string;
  ownEmail: string;
  sharedEmail: string;
  group: string;
  /** Finished (email + inapp to own and shared), and one waiting for an acknowledgement. */
  done: string;
  pending: string;
  ownMessage: string;
  sharedMessage: string;
  webhook: string;
  webhookSecrets: string[];
  endpoint: string;
  deadline: string;
  keyId: string;
  preferences: Record<string, unknown>;
  groupPreferences: Record<string, unknown>;
  timezone: string;
}

const PREFERENCES = { channels: { sms: false }, events: { 'job.failed': { enabled: false } } };
const GROUP_PREFERENCES = { events: { 'backup.failed': { enabled: true } } };

describe('tenant isolation: tenant A and tenant B on one API', () => {
  let stack: Stack;
  let a: Tenant;
  let b: Tenant;
  const shared = uniq('shared');
  /** Strings of B's data that must never appear in anything A is shown. */
  let bMarkers: string[];

  /** A request as `key`, JSON body when given. */
  const send = (
    key: string,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) =>
    rawRequest(stack.baseUrl, method, path, {
      headers: { authorization: `Bearer ${key}`, ...headers },
      body,
    });
  const asA = (method: string, path: string, body?: unknown) => send(a.key, method, path, body);
  const asB = (method: string, path: string, body?: unknown) => send(b.key, method, path, body);

  async function expectStatus(response: Promise<ApiResponse>, status: number): Promise<ApiResponse> {
    const answered = await response;
    expect({ status: answered.status, body: answered.body }).toMatchObject({ status });
    return answered;
  }

  /** Polls the notification as `key` (its own tenant) until it has finished. */
  async function finished(key: string, id: string) {
    for (let i = 0; i < 600; i++) {
      const view = await send(key, 'GET', `/v1/notifications/${id}`);
      if (['completed', 'failed', 'cancelled'].includes(view.body?.status)) return view.body;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`notification ${id} did not finish`);
  }

  /** One tenant with one of everything, all through the API. */
  async function populate(id: string, key: string, timezone: string): Promise<Tenant> {
    const as = (method: string, path: string, body?: unknown) => send(key, method, path, body);
    const own = uniq(`${id}-own`);
    const ownEmail = `${own}@example.com`;
    const sharedEmail = `${id}-${shared}@example.com`;
    await expectStatus(as('PUT', `/v1/recipients/${own}`, { name: 'Own', email: ownEmail }), 201);
    await expectStatus(as('PUT', `/v1/recipients/${shared}`, { name: 'Shared', email: sharedEmail }), 201);
    const group = uniq(`${id}-group`);
    await expectStatus(as('PUT', `/v1/groups/${group}`, { name: `Group ${group}` }), 201);
    await expectStatus(as('PUT', `/v1/groups/${group}/members/${own}`), 201);
    await expectStatus(as('PUT', `/v1/groups/${group}/members/${shared}`), 201);
    await expectStatus(as('PUT', `/v1/recipients/${own}/preferences`, PREFERENCES), 200);
    await expectStatus(as('PUT', `/v1/groups/${group}/preferences`, GROUP_PREFERENCES), 200);
    // Only a zone: quiet hours would hold this test's notifications at some times of day.
    await expectStatus(as('PUT', '/v1/settings/quiet-hours', { quietHours: null, timezone }), 200);

    const doneCreated = await expectStatus(
      as('POST', '/v1/notifications', {
        event: 'ticket.assigned',
        to: { recipients: [own, shared] },
        channels: ['email', 'inapp'],
        data: { ticketId: '1', title: `Printer of ${id}` },
      }),
      202,
    );
    const done = doneCreated.body.id as string;
    const pendingCreated = await expectStatus(
      as('POST', '/v1/notifications', {
        event: 'ticket.assigned',
        to: { recipients: [own] },
        channels: ['email'],
        data: { ticketId: '2', title: `Server room of ${id}` },
        escalation: { levels: [{ afterSeconds: 600, recipients: [own] }] },
      }),
      202,
    );
    const pending = pendingCreated.body.id as string;

    const webhookCreated = await expectStatus(
      as('POST', '/v1/webhook-endpoints', { url: `http://127.0.0.1:9/${uniq('hook')}`, recipient: own }),
      201,
    );
    const endpoint = `http://127.0.0.1:9/push/${uniq('sub')}`;
    await expectStatus(as('POST', `/v1/recipients/${own}/push-subscriptions`, newDevice(endpoint).json), 201);
    const deadline = uniq(`${id}-ticket`);
    await expectStatus(
      as('PUT', `/v1/deadlines/${deadline}`, {
        dueAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
        event: 'ticket.overdue',
        to: { recipients: [own] },
        data: { ticketId: '3', title: 'Due next week' },
      }),
      201,
    );
    const keyCreated = await expectStatus(
      as('POST', '/v1/api-keys', { name: 'reader', scopes: ['read'] }),
      201,
    );

    const view = await finished(key, done);
    expect(view.status).toBe('completed');
    const inboxId = (externalId: string) =>
      view.recipients
        .find((r: { externalId: string }) => r.externalId === externalId)
        .deliveries.find((d: { channel: string }) => d.channel === 'inapp').providerMessageId as string;
    // The escalation waits 10 minutes for an acknowledgement: long past this test.
    for (let i = 0; ; i++) {
      const state = await as('GET', `/v1/notifications/${pending}`);
      if (state.body.status === 'waiting_ack') break;
      if (i > 200) throw new Error(`notification ${pending} is ${state.body.status}, not waiting_ack`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return {
      id,
      key,
      own,
      ownEmail,
      sharedEmail,
      group,
      done,
      pending,
      ownMessage: inboxId(own),
      sharedMessage: inboxId(shared),
      webhook: webhookCreated.body.id,
      webhookSecrets: webhookCreated.body.secrets,
      endpoint,
      deadline,
      keyId: keyCreated.body.id,
      preferences: PREFERENCES,
      groupPreferences: GROUP_PREFERENCES,
      timezone,
    };
  }

  beforeAll(async () => {
    const loopback = { HERALD_ALLOW_LOOPBACK_URLS: 'true' };
    // The worker opens the sealed webhook secrets with the API's key.
    stack = await startStack({
      apiEnv: loopback,
      channelEnv: { ...loopback, HERALD_SECRET_KEY: TEST_SECRET_KEY },
    });
    const bId = uniq('tenant-b');
    const { key: bKey } = await createTestTenant(stack.db, bId);
    [a, b] = await Promise.all([
      populate(stack.tenantId, stack.apiKey, 'Europe/Paris'),
      populate(bId, bKey, 'Africa/Harare'),
    ]);
    bMarkers = [
      b.id,
      b.own,
      b.ownEmail,
      b.sharedEmail,
      b.group,
      b.done,
      b.pending,
      b.ownMessage,
      b.sharedMessage,
      b.webhook,
      b.endpoint,
      b.deadline,
      b.keyId,
    ];
  });
  afterAll(async () => {
    EventStream.closeAll();
    await stack?.close();
  });

  const expectNoneOfB = (response: ApiResponse) => {
    const text = JSON.stringify(response.body);
    expect(bMarkers.filter((marker) => text.includes(marker))).toEqual([]);
  };

  describe("B's ids answer A exactly like ids that do not exist", () => {
    /** The ids a request names: B's, or ones nobody has. */
    interface Ids {
      own: string;
      group: string;
      done: string;
      pending: string;
      ownMessage: string;
      sharedMessage: string;
      webhook: string;
      endpoint: string;
      deadline: string;
      keyId: string;
    }
    const missing = (): Ids => ({
      own: uniq('nobody'),
      group: uniq('nogroup'),
      done: randomUUID(),
      pending: randomUUID(),
      ownMessage: randomUUID(),
      sharedMessage: randomUUID(),
      webhook: randomUUID(),
      endpoint: `http://127.0.0.1:9/push/${uniq('none')}`,
      deadline: uniq('nodeadline'),
      keyId: `key_${randomBytes(10).toString('hex')}`,
    });
    /** The body with each id the request named replaced by its name. */
    const withoutIds = (body: unknown, ids: Ids) =>
      Object.entries(ids)
        .sort(([, x], [, y]) => y.length - x.length)
        .reduce((text, [name, value]) => text.replaceAll(value, `<${name}>`), JSON.stringify(body));
    const device = () => newDevice(`http://127.0.0.1:9/push/${uniq('intruder')}`).json;
    const notification = (to: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
      event: 'ticket.assigned',
      channels: ['email'],
      data: { ticketId: '9', title: 'Intrusion' },
      to,
      ...extra,
    });

    // [what, method, path, body]: each sent by A with B's ids and with ids nobody has.
    const cases: [string, string, (t: Ids) => string, ((t: Ids) => unknown)?][] = [
      ['get a notification', 'GET', (t) => `/v1/notifications/${t.done}`],
      ['get a running notification', 'GET', (t) => `/v1/notifications/${t.pending}`],
      ['ack', 'POST', (t) => `/v1/notifications/${t.pending}/ack`, () => ({ by: 'intruder' })],
      ['cancel', 'POST', (t) => `/v1/notifications/${t.pending}/cancel`],
      ['get a recipient', 'GET', (t) => `/v1/recipients/${t.own}`],
      ['delete a recipient', 'DELETE', (t) => `/v1/recipients/${t.own}`],
      ['mint an end-user token', 'POST', (t) => `/v1/recipients/${t.own}/tokens`],
      ['get preferences', 'GET', (t) => `/v1/recipients/${t.own}/preferences`],
      [
        'put preferences',
        'PUT',
        (t) => `/v1/recipients/${t.own}/preferences`,
        () => ({ channels: { email: false } }),
      ],
      ['list an inbox', 'GET', (t) => `/v1/recipients/${t.own}/inbox`],
      ['count unread', 'GET', (t) => `/v1/recipients/${t.own}/inbox/unread-count`],
      ['read all', 'POST', (t) => `/v1/recipients/${t.own}/inbox/read-all`],
      ['open the live inbox', 'GET', (t) => `/v1/recipients/${t.own}/inbox/stream`],
      ...(['read', 'unread', 'archive', 'unarchive'] as const).flatMap(
        (action): [string, string, (t: Ids) => string][] => [
          [`${action} a message`, 'POST', (t) => `/v1/recipients/${t.own}/inbox/${t.ownMessage}/${action}`],
          // B's message through A's own recipient, and through the externalId both tenants have.
          [
            `${action} a message via A's recipient`,
            'POST',
            (t) => `/v1/recipients/${a.own}/inbox/${t.ownMessage}/${action}`,
          ],
          [
            `${action} a message via the shared id`,
            'POST',
            (t) => `/v1/recipients/${shared}/inbox/${t.sharedMessage}/${action}`,
          ],
        ],
      ),
      ['delete a message', 'DELETE', (t) => `/v1/recipients/${t.own}/inbox/${t.ownMessage}`],
      [
        'delete a message via the shared id',
        'DELETE',
        (t) => `/v1/recipients/${shared}/inbox/${t.sharedMessage}`,
      ],
      ['subscribe to push', 'POST', (t) => `/v1/recipients/${t.own}/push-subscriptions`, device],
      [
        'unsubscribe',
        'DELETE',
        (t) => `/v1/recipients/${t.own}/push-subscriptions`,
        (t) => ({ endpoint: t.endpoint }),
      ],
      [
        "unsubscribe via A's recipient",
        'DELETE',
        () => `/v1/recipients/${a.own}/push-subscriptions`,
        (t) => ({ endpoint: t.endpoint }),
      ],
      ['get a group', 'GET', (t) => `/v1/groups/${t.group}`],
      ['delete a group', 'DELETE', (t) => `/v1/groups/${t.group}`],
      ["add A's recipient to a group", 'PUT', (t) => `/v1/groups/${t.group}/members/${a.own}`],
      ['remove a member', 'DELETE', (t) => `/v1/groups/${t.group}/members/${t.own}`],
      ["add a recipient to A's group", 'PUT', (t) => `/v1/groups/${a.group}/members/${t.own}`],
      ['get group preferences', 'GET', (t) => `/v1/groups/${t.group}/preferences`],
      ['put group preferences', 'PUT', (t) => `/v1/groups/${t.group}/preferences`, () => ({ events: {} })],
      ['delete group preferences', 'DELETE', (t) => `/v1/groups/${t.group}/preferences`],
      ['get a webhook endpoint', 'GET', (t) => `/v1/webhook-endpoints/${t.webhook}`],
      ['delete a webhook endpoint', 'DELETE', (t) => `/v1/webhook-endpoints/${t.webhook}`],
      ['rotate its secret', 'POST', (t) => `/v1/webhook-endpoints/${t.webhook}/rotate-secret`],
      ['remove its old secrets', 'DELETE', (t) => `/v1/webhook-endpoints/${t.webhook}/secrets/old`],
      ['enable it', 'POST', (t) => `/v1/webhook-endpoints/${t.webhook}/enable`],
      [
        'register a webhook for a recipient',
        'POST',
        () => '/v1/webhook-endpoints',
        (t) => ({ url: 'http://127.0.0.1:9/x', recipient: t.own }),
      ],
      ['get a deadline', 'GET', (t) => `/v1/deadlines/${t.deadline}`],
      ['close a deadline', 'POST', (t) => `/v1/deadlines/${t.deadline}/done`],
      ['revoke an API key', 'DELETE', (t) => `/v1/api-keys/${t.keyId}`],
      ['notify a recipient', 'POST', () => '/v1/notifications', (t) => notification({ recipients: [t.own] })],
      ['notify a group', 'POST', () => '/v1/notifications', (t) => notification({ groups: [t.group] })],
      [
        'escalate to a recipient',
        'POST',
        () => '/v1/notifications',
        (t) =>
          notification(
            { recipients: [a.own] },
            { escalation: { levels: [{ afterSeconds: 60, recipients: [t.own] }] } },
          ),
      ],
      [
        'register a deadline for a recipient',
        'PUT',
        () => `/v1/deadlines/${uniq('intrusion')}`,
        (t) => ({
          dueAt: new Date(Date.now() + 86_400_000).toISOString(),
          event: 'ticket.overdue',
          to: { recipients: [t.own] },
          data: { ticketId: '9', title: 'x' },
        }),
      ],
    ];

    it.each(cases.map(([what, method, path, body]) => ({ what, method, path, body })))(
      "$what: the same 404/422 for B's id as for none",
      async ({ method, path, body }) => {
        const theirs: Ids = b;
        const nobody = missing();
        const foreign = await asA(method, path(theirs), body?.(theirs));
        const absent = await asA(method, path(nobody), body?.(nobody));
        expect([404, 422]).toContain(absent.status);
        expect({ status: foreign.status, code: foreign.body?.error?.code }).toEqual({
          status: absent.status,
          code: absent.body.error.code,
        });
        // Word for word the same, but for the ids the request itself named.
        expect(withoutIds(foreign.body, theirs)).toBe(withoutIds(absent.body, nobody));
      },
    );
  });

  describe("B's data never appears in A's lists", () => {
    const since = new Date(Date.now() - 86_400_000).toISOString();
    const until = new Date(Date.now() + 86_400_000).toISOString();

    it.each([
      [''],
      ['?event=ticket.assigned'],
      ['?status=completed'],
      [`?since=${since}&until=${until}`],
      ['?recipient=RECIPIENT_B'],
      ['?recipient=SHARED'],
    ])('notifications%s', async (query) => {
      const listed = await expectStatus(
        asA('GET', `/v1/notifications${query.replace('RECIPIENT_B', b.own).replace('SHARED', shared)}`),
        200,
      );
      expectNoneOfB(listed);
      const ids = listed.body.items.map((n: { id: string }) => n.id);
      if (query.includes('RECIPIENT_B')) expect(ids).toEqual([]);
      if (query === '' || query.includes('SHARED')) expect(ids).toContain(a.done);
    });

    it.each([
      [''],
      ['?notification=NOTIFICATION_B'],
      ['?recipient=RECIPIENT_B'],
      ['?recipient=EMAIL_B'],
      ['?recipient=SHARED'],
      ['?channel=email'],
      ['?channel=inapp'],
      ['?status=sent'],
      ['?status=pending'],
      ['?event=ticket.assigned'],
      [`?since=${since}&until=${until}`],
      ['?limit=1'],
    ])('deliveries%s', async (query) => {
      const concrete = query
        .replace('NOTIFICATION_B', b.done)
        .replace('RECIPIENT_B', b.own)
        .replace('EMAIL_B', encodeURIComponent(b.ownEmail))
        .replace('SHARED', shared);
      const listed = await expectStatus(asA('GET', `/v1/deliveries${concrete}`), 200);
      expectNoneOfB(listed);
      const ofA = new Set([a.done, a.pending]);
      expect(listed.body.items.filter((d: { notificationId: string }) => !ofA.has(d.notificationId))).toEqual(
        [],
      );
      if (/_B/.test(query)) expect(listed.body.items).toEqual([]);
      if (query === '' || query.includes('SHARED')) expect(listed.body.items.length).toBeGreaterThan(0);
      // The next page (by cursor) is A's too.
      if (listed.body.nextCursor) {
        const next = await expectStatus(
          asA('GET', `/v1/deliveries${concrete}${concrete ? '&' : '?'}cursor=${listed.body.nextCursor}`),
          200,
        );
        expectNoneOfB(next);
      }
    });

    it('recipients, groups and members', async () => {
      const recipients = await expectStatus(asA('GET', '/v1/recipients?limit=500'), 200);
      expectNoneOfB(recipients);
      expect(recipients.body.items.map((r: { externalId: string }) => r.externalId)).toEqual(
        expect.arrayContaining([a.own, shared]),
      );
      const sharedOfA = recipients.body.items.find((r: { externalId: string }) => r.externalId === shared);
      expect(sharedOfA).toMatchObject({ email: a.sharedEmail, groups: [a.group] });
      const groups = await expectStatus(asA('GET', '/v1/groups'), 200);
      expectNoneOfB(groups);
      expect(groups.body.items.map((g: { key: string }) => g.key)).toContain(a.group);
      const group = await expectStatus(asA('GET', `/v1/groups/${a.group}`), 200);
      expectNoneOfB(group);
      expect(group.body.members.map((m: { externalId: string }) => m.externalId).sort()).toEqual(
        [a.own, shared].sort(),
      );
    });

    it('the inbox of the externalId both tenants have', async () => {
      const inbox = await expectStatus(asA('GET', `/v1/recipients/${shared}/inbox`), 200);
      expectNoneOfB(inbox);
      expect(inbox.body.items.map((m: { id: string }) => m.id)).toEqual([a.sharedMessage]);
      expect(inbox.body.items[0].notificationId).toBe(a.done);
      const unread = await expectStatus(asA('GET', `/v1/recipients/${shared}/inbox/unread-count`), 200);
      expect(unread.body).toEqual({ unreadCount: 1 });
    });

    it('webhook endpoints, API keys and settings', async () => {
      for (const query of ['', `?recipient=${b.own}`, `?recipient=${shared}`]) {
        expectNoneOfB(await expectStatus(asA('GET', `/v1/webhook-endpoints${query}`), 200));
      }
      const endpoints = await asA('GET', '/v1/webhook-endpoints');
      expect(endpoints.body.items.map((e: { id: string }) => e.id)).toContain(a.webhook);
      const keys = await expectStatus(asA('GET', '/v1/api-keys'), 200);
      expectNoneOfB(keys);
      expect(keys.body.items.map((k: { id: string }) => k.id)).toContain(a.keyId);
      const settings = await expectStatus(asA('GET', '/v1/settings/quiet-hours'), 200);
      expect(settings.body).toEqual({ quietHours: null, timezone: a.timezone });
    });
  });

  describe("A cannot change B's objects", () => {
    beforeAll(async () => {
      // A acts in its own namespace on names B also uses: that must reach only A's objects.
      await expectStatus(
        asA('PUT', `/v1/recipients/${shared}`, { name: 'Changed by A', email: 'a@example.com' }),
        200,
      );
      await expectStatus(
        asA('PUT', '/v1/settings/quiet-hours', { quietHours: null, timezone: 'Asia/Tokyo' }),
        200,
      );
      await expectStatus(asA('POST', `/v1/recipients/${shared}/inbox/read-all`), 200);
      // And everything the 404 table above tried once more, all at once, so this block stands alone.
      for (const [method, path, body] of [
        ['POST', `/v1/notifications/${b.pending}/ack`, { by: 'intruder' }],
        ['POST', `/v1/notifications/${b.pending}/cancel`],
        ['DELETE', `/v1/recipients/${b.own}`],
        ['PUT', `/v1/recipients/${b.own}/preferences`, {}],
        ['POST', `/v1/recipients/${shared}/inbox/${b.sharedMessage}/archive`],
        ['DELETE', `/v1/recipients/${shared}/inbox/${b.sharedMessage}`],
        ['DELETE', `/v1/recipients/${b.own}/inbox/${b.ownMessage}`],
        ['DELETE', `/v1/recipients/${a.own}/push-subscriptions`, { endpoint: b.endpoint }],
        ['DELETE', `/v1/groups/${b.group}/members/${b.own}`],
        ['DELETE', `/v1/groups/${b.group}/preferences`],
        ['DELETE', `/v1/groups/${b.group}`],
        ['POST', `/v1/webhook-endpoints/${b.webhook}/rotate-secret`],
        ['DELETE', `/v1/webhook-endpoints/${b.webhook}`],
        ['POST', `/v1/deadlines/${b.deadline}/done`],
        ['DELETE', `/v1/api-keys/${b.keyId}`],
      ] as [string, string, unknown?][]) {
        expect([404, 422]).toContain((await asA(method, path, body)).status);
      }
    });

    it("B's notification is still waiting for its acknowledgement, and B can ack it", async () => {
      const view = await expectStatus(asB('GET', `/v1/notifications/${b.pending}`), 200);
      expect(view.body.status).toBe('waiting_ack');
      const ack = await expectStatus(asB('POST', `/v1/notifications/${b.pending}/ack`, { by: b.own }), 200);
      expect(ack.body).toMatchObject({ accepted: true, acknowledged: { by: b.own } });
    });

    it("B's recipients, preferences, groups and settings are as B left them", async () => {
      expect((await expectStatus(asB('GET', `/v1/recipients/${b.own}`), 200)).body).toMatchObject({
        email: b.ownEmail,
        groups: [b.group],
      });
      expect((await expectStatus(asB('GET', `/v1/recipients/${shared}`), 200)).body).toMatchObject({
        name: 'Shared',
        email: b.sharedEmail,
      });
      expect((await asB('GET', `/v1/recipients/${b.own}/preferences`)).body).toEqual(b.preferences);
      const group = await expectStatus(asB('GET', `/v1/groups/${b.group}`), 200);
      expect(group.body).toMatchObject({ memberCount: 2 });
      expect((await asB('GET', `/v1/groups/${b.group}/preferences`)).body).toEqual(b.groupPreferences);
      expect((await asB('GET', '/v1/settings/quiet-hours')).body).toEqual({
        quietHours: null,
        timezone: b.timezone,
      });
    });

    it("B's inbox messages are unread, not archived, not deleted", async () => {
      for (const [externalId, message] of [
        [b.own, b.ownMessage],
        [shared, b.sharedMessage],
      ] as const) {
        const inbox = await expectStatus(asB('GET', `/v1/recipients/${externalId}/inbox`), 200);
        expect(inbox.body.items).toEqual([
          expect.objectContaining({ id: message, readAt: null, archivedAt: null }),
        ]);
        expect(inbox.body.unreadCount).toBe(1);
      }
    });

    it("B's webhook endpoint, deadline, API key and push subscription are intact", async () => {
      const endpoint = await expectStatus(asB('GET', `/v1/webhook-endpoints/${b.webhook}`), 200);
      expect(endpoint.body).toMatchObject({ secrets: b.webhookSecrets, disabled: false, recipient: b.own });
      expect((await expectStatus(asB('GET', `/v1/deadlines/${b.deadline}`), 200)).body).toMatchObject({
        status: 'open',
        doneAt: null,
      });
      const keys = (await asB('GET', '/v1/api-keys')).body.items;
      expect(keys.find((k: { id: string }) => k.id === b.keyId)).toMatchObject({ revokedAt: null });
      // There is no list of push subscriptions: B removing its own shows it was still there.
      await expectStatus(
        asB('DELETE', `/v1/recipients/${b.own}/push-subscriptions`, { endpoint: b.endpoint }),
        204,
      );
    });
  });

  describe('idempotency keys and workflows', () => {
    it('are per tenant: the same key in A and B makes two notifications; each replays its own', async () => {
      const idempotencyKey = uniq('idem');
      const body = {
        event: 'ticket.assigned',
        to: { recipients: [shared] },
        channels: ['inapp'],
        data: { ticketId: '5', title: 'Same key' },
      };
      const headers = { 'idempotency-key': idempotencyKey };
      const firstA = await expectStatus(send(a.key, 'POST', '/v1/notifications', body, headers), 202);
      const firstB = await expectStatus(send(b.key, 'POST', '/v1/notifications', body, headers), 202);
      expect(firstB.body.id).not.toBe(firstA.body.id);
      expect(firstB.headers.get('idempotent-replayed')).toBeNull();
      const againA = await expectStatus(send(a.key, 'POST', '/v1/notifications', body, headers), 202);
      const againB = await expectStatus(send(b.key, 'POST', '/v1/notifications', body, headers), 202);
      expect([againA.body.id, againB.body.id]).toEqual([firstA.body.id, firstB.body.id]);
      expect(againB.headers.get('idempotent-replayed')).toBe('true');

      // Not listed back: a key is the caller's secret handle, not data.
      const listed = await expectStatus(asA('GET', '/v1/notifications'), 200);
      const item = listed.body.items.find((n: { id: string }) => n.id === firstA.body.id);
      expect(item).toBeDefined();
      expect(item).not.toHaveProperty('idempotencyKey');
      expect(JSON.stringify(listed.body)).not.toContain(idempotencyKey);
      const view = await expectStatus(asA('GET', `/v1/notifications/${firstA.body.id}`), 200);
      expect(JSON.stringify(view.body)).not.toContain(idempotencyKey);
    });

    it("carries the tenant into each workflow: HeraldTenant and the input are the caller's tenant", async () => {
      for (const tenant of [a, b]) {
        const workflowId = (await send(tenant.key, 'GET', `/v1/notifications/${tenant.done}`)).body
          .workflowId;
        const handle = stack.client.workflow.getHandle(workflowId);
        const description = await handle.describe();
        expect(description.typedSearchAttributes.get(SEARCH_ATTRIBUTES.tenant)).toBe(tenant.id);
        const history = await handle.fetchHistory();
        const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
        const input = JSON.parse(Buffer.from(payload!.data!).toString('utf8'));
        expect(input).toMatchObject({ notificationId: tenant.done, tenantId: tenant.id });
      }
    });
  });
  describe('what the worker sends', () => {
    const notifyShared = async (key: string, channels: string[]) => {
      const created = await expectStatus(
        send(key, 'POST', '/v1/notifications', {
          event: 'ticket.assigned',
          to: { recipients: [shared] },
          channels,
          data: { ticketId: '8', title: 'Sent by the worker' },
        }),
        202,
      );
      const view = await finished(key, created.body.id);
      expect(view.status).toBe('completed');
      return view;
    };

    it("A's live inbox of the externalId both tenants have never carries B's messages", async () => {
      const stream = await EventStream.open(`${stack.baseUrl}/v1/recipients/${shared}/inbox/stream`, {
        authorization: `Bearer ${a.key}`,
      });
      expect(stream.status).toBe(200);
      await stream.expectEvent('ready');
      // B's message is written (and announced) before A's: had it leaked, it would come first.
      await notifyShared(b.key, ['inapp']);
      const ofA = await notifyShared(a.key, ['inapp']);
      expect(await stream.expectEvent('message')).toMatchObject({
        id: ofA.recipients[0].deliveries[0].providerMessageId,
        notificationId: ofA.id,
      });
      stream.close();
    });

    it("B's tenant-wide webhook never receives A's notifications", async () => {
      const received: { path: string; body: string }[] = [];
      const receiver = http.createServer((req, res) => {
        let body = '';
        req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
        req.on('end', () => {
          received.push({ path: req.url ?? '', body });
          res.writeHead(200).end();
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
      try {
        for (const [key, path] of [
          [a.key, '/a'],
          [b.key, '/b'],
        ] as const) {
          await expectStatus(send(key, 'POST', '/v1/webhook-endpoints', { url: `${base}${path}` }), 201);
        }
        const ofA = await notifyShared(a.key, ['webhook']);
        const ofB = await notifyShared(b.key, ['webhook']);
        const to = (path: string) => received.filter((r) => r.path === path).map((r) => r.body);
        expect(to('/a')).toHaveLength(1);
        expect(to('/a')[0]).toContain(ofA.id);
        expect(to('/b')).toHaveLength(1);
        expect(to('/b')[0]).toContain(ofB.id);
        expect(to('/b')[0]).not.toContain(ofA.id);
      } finally {
        receiver.closeAllConnections();
        await new Promise<void>((resolve) => receiver.close(() => resolve()));
      }
    });
  });
});
