import { randomBytes, randomUUID } from 'node:crypto';
import { endUserTokenKey, mintEndUserToken } from '../api/auth/end-user-token';
import { decodeSecretKey } from '../common/secret-box';
import { createKey, createTestTenant, TEST_SECRET_KEY } from './support/auth';
import { EventStream } from './support/event-stream';
import { expectError } from './support/expect-error';
import { newDevice, vapid } from './support/push-service';
import { rawRequest, startStack, uniq, type ApiResponse, type Stack } from './support/stack';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the OpenAPI document as fetched
type OpenApiDocument = any;

describe('end-user tokens', () => {
  let stack: Stack;
  let doc: OpenApiDocument;
  let tenantB: { id: string; key: string };
  /** The same externalId in both tenants; `bob` only in A; `onlyInB` only in B. */
  const alice = uniq('alice');
  const bob = uniq('bob');
  const onlyInB = uniq('only-b');
  let token: string;
  let bobMessage: string;
  let aliceOfBMessage: string;

  /** A request with exactly this Authorization ('' = none); POST and PUT always carry a JSON body. */
  const call = (method: string, path: string, authorization: string, body?: unknown): Promise<ApiResponse> =>
    rawRequest(stack.baseUrl, method, path, {
      headers: authorization ? { authorization } : {},
      body: body ?? (method === 'POST' || method === 'PUT' ? {} : undefined),
    });
  const asUser = (method: string, path: string, body?: unknown, as = token) =>
    call(method, path, `Bearer ${as}`, body);
  const streamUrl = (externalId: string) => `${stack.baseUrl}/v1/recipients/${externalId}/inbox/stream`;

  /** Sends ticket.assigned in-app only as `key`, waits for the end, returns the inbox message id. */
  async function deliver(key: string, externalId: string, title = 'Printer not working'): Promise<string> {
    const created = await call('POST', '/v1/notifications', `Bearer ${key}`, {
      event: 'ticket.assigned',
      to: { recipients: [externalId] },
      channels: ['inapp'],
      data: { ticketId: '7', title },
    });
    expect(created.status).toBe(202);
    for (let i = 0; i < 600; i++) {
      const view = await call('GET', `/v1/notifications/${created.body.id}`, `Bearer ${key}`);
      if (view.body.status === 'completed') return view.body.recipients[0].deliveries[0].providerMessageId;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`notification ${created.body.id} did not complete`);
  }

  beforeAll(async () => {
    const loopback = { HERALD_ALLOW_LOOPBACK_URLS: 'true' };
    stack = await startStack({
      apiEnv: { ...loopback, VAPID_PUBLIC_KEY: vapid.publicKey },
      channelEnv: loopback,
    });
    tenantB = { id: uniq('tenant-b'), key: '' };
    tenantB.key = (await createTestTenant(stack.db, tenantB.id)).key;
    for (const [key, externalId] of [
      [stack.apiKey, alice],
      [stack.apiKey, bob],
      [tenantB.key, alice],
      [tenantB.key, onlyInB],
    ]) {
      expect(
        (await call('PUT', `/v1/recipients/${externalId}`, `Bearer ${key}`, { name: externalId })).status,
      ).toBe(201);
    }
    bobMessage = await deliver(stack.apiKey, bob);
    aliceOfBMessage = await deliver(tenantB.key, alice, 'For the other Alice');
    doc = (await call('GET', '/openapi.json', '')).body;
    const minted = await stack.api('POST', `/v1/recipients/${alice}/tokens`);
    expect(minted.status).toBe(201);
    token = minted.body.token;
  });
  afterAll(async () => {
    EventStream.closeAll();
    await stack?.close();
  });

  describe('minting', () => {
    it('POST /v1/recipients/{id}/tokens answers {token, expiresAt} (scope manage)', async () => {
      const before = Date.now();
      const minted = await stack.api('POST', `/v1/recipients/${alice}/tokens`);
      expect(minted.status).toBe(201);
      expect(Object.keys(minted.body).sort()).toEqual(['centerUrl', 'expiresAt', 'token']);
      expect(minted.body.token).toMatch(/^heu_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
      expect(minted.body.centerUrl).toBe(`${stack.baseUrl}/app#token=${minted.body.token}`);
      const ttlMs = stack.config.END_USER_TOKEN_TTL_SECONDS * 1000;
      const expiresAt = Date.parse(minted.body.expiresAt);
      expect(expiresAt).toBeGreaterThanOrEqual(before + ttlMs - 1000);
      expect(expiresAt).toBeLessThanOrEqual(Date.now() + ttlMs + 1000);
    });

    it('needs the manage scope (403) and an existing recipient (404)', async () => {
      const reader = (await createKey(stack.db, stack.tenantId, ['read', 'send', 'admin'])).key;
      const refused = await call('POST', `/v1/recipients/${alice}/tokens`, `Bearer ${reader}`);
      expectError(refused, 403, 'forbidden');
      expect(refused.body.error.message).toContain("'manage'");
      expectError(await stack.api('POST', `/v1/recipients/${onlyInB}/tokens`), 404, 'not_found');
    });
  });

  describe("opens the person's own routes", () => {
    it('the inbox: list, unread count, read, unread, archive, unarchive, delete, read-all', async () => {
      const first = await deliver(stack.apiKey, alice, 'First');
      const second = await deliver(stack.apiKey, alice, 'Second');
      const inbox = await asUser('GET', `/v1/recipients/${alice}/inbox`);
      expect(inbox.status).toBe(200);
      expect(inbox.body.items.map((m: { id: string }) => m.id)).toEqual(
        expect.arrayContaining([first, second]),
      );
      const unreadBefore = (await asUser('GET', `/v1/recipients/${alice}/inbox/unread-count`)).body
        .unreadCount;
      expect(unreadBefore).toBeGreaterThanOrEqual(2);

      const base = `/v1/recipients/${alice}/inbox/${first}`;
      expect((await asUser('POST', `${base}/read`)).body).toMatchObject({
        id: first,
        readAt: expect.any(String),
      });
      expect((await asUser('GET', `/v1/recipients/${alice}/inbox/unread-count`)).body).toEqual({
        unreadCount: unreadBefore - 1,
      });
      expect((await asUser('POST', `${base}/unread`)).body).toMatchObject({ id: first, readAt: null });
      expect((await asUser('POST', `${base}/archive`)).body).toMatchObject({
        archivedAt: expect.any(String),
      });
      expect((await asUser('POST', `${base}/unarchive`)).body).toMatchObject({ archivedAt: null });
      expect((await asUser('DELETE', base)).status).toBe(204);
      const after = await asUser('GET', `/v1/recipients/${alice}/inbox`);
      expect(after.body.items.map((m: { id: string }) => m.id)).not.toContain(first);

      const readAll = await asUser('POST', `/v1/recipients/${alice}/inbox/read-all`);
      expect(readAll.status).toBe(200);
      expect((await asUser('GET', `/v1/recipients/${alice}/inbox/unread-count`)).body).toEqual({
        unreadCount: 0,
      });
    });

    it.each([
      ['Authorization: Bearer', (t: string) => [streamUrl(alice), { authorization: `Bearer ${t}` }] as const],
      ['?token=', (t: string) => [`${streamUrl(alice)}?token=${encodeURIComponent(t)}`, {}] as const],
    ])('the live inbox with %s: ready, then a message as it arrives', async (_how, request) => {
      const [url, headers] = request(token);
      const stream = await EventStream.open(url, headers);
      expect(stream.status).toBe(200);
      expect(await stream.expectEvent('ready')).toEqual({ unreadCount: expect.any(Number) });
      const id = await deliver(stack.apiKey, alice, 'Live');
      expect(await stream.expectEvent('message')).toMatchObject({ id, notificationId: expect.any(String) });
      stream.close();
    });

    it('preferences: read and replace', async () => {
      const document = { channels: { sms: false }, events: { 'job.failed': { enabled: false } } };
      expect((await asUser('PUT', `/v1/recipients/${alice}/preferences`, document)).status).toBe(200);
      expect((await asUser('GET', `/v1/recipients/${alice}/preferences`)).body).toEqual(document);
      // Stored for the tenant: its key sees the same document.
      expect((await stack.api('GET', `/v1/recipients/${alice}/preferences`)).body).toEqual(document);
    });

    it('push: the VAPID public key, subscribe and unsubscribe', async () => {
      const key = await asUser('GET', '/v1/push/public-key');
      expect(key.status).toBe(200);
      expect(key.body).toEqual({ publicKey: vapid.publicKey });
      const endpoint = `http://127.0.0.1:9/push/${uniq('sub')}`;
      const subscribed = await asUser(
        'POST',
        `/v1/recipients/${alice}/push-subscriptions`,
        newDevice(endpoint).json,
      );
      expect(subscribed.status).toBe(201);
      expect(subscribed.body).toMatchObject({ externalId: alice, endpoint });
      const removed = await asUser('DELETE', `/v1/recipients/${alice}/push-subscriptions`, { endpoint });
      expect(removed.status).toBe(204);
    });
  });

  describe('and nothing else', () => {
    /** Every operation of the document, with its path filled for `externalId`. */
    const operations = (externalId: string, messageId: string) =>
      Object.entries(doc.paths as Record<string, Record<string, OpenApiDocument>>)
        .flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ path, method, op })))
        .filter(({ op }) => op['x-herald-scope'] !== undefined)
        .map(({ path, method, op }) => ({
          name: `${method.toUpperCase()} ${path}`,
          method: method.toUpperCase(),
          endUser: op['x-herald-end-user'] === true,
          url: path.replace(/\{(\w+)\}/g, (_: string, param: string) => {
            if (param === 'externalId') return externalId;
            if (param === 'messageId') return messageId;
            if (param === 'id' || param === 'eventId')
              return path.startsWith('/v1/schedules/') ? `herald-${uniq('none')}` : randomUUID();
            if (param === 'key') return uniq('nokey');
            if (param === 'event') return 'ticket.assigned';
            throw new Error(`no value for {${param}} in ${path}`);
          }),
        }));

    it("another person's routes answer 404, exactly like a person who does not exist", async () => {
      const personal = operations(bob, bobMessage).filter((op) => op.endUser && op.url.includes(bob));
      expect(personal.length).toBeGreaterThanOrEqual(12);
      const problems: string[] = [];
      for (const op of personal) {
        const theirs = await asUser(op.method, op.url);
        const nobody = await asUser(op.method, op.url.replaceAll(bob, 'nobody-at-all'));
        const same =
          theirs.status === 404 &&
          nobody.status === 404 &&
          JSON.stringify(theirs.body).replaceAll(bob, '<id>') ===
            JSON.stringify(nobody.body).replaceAll('nobody-at-all', '<id>');
        if (!same)
          problems.push(`${op.name}: ${theirs.status} ${JSON.stringify(theirs.body)} vs ${nobody.status}`);
      }
      expect(problems).toEqual([]);
      // Bob's message through Alice's own route is no more hers.
      for (const action of ['read', 'archive']) {
        expectError(
          await asUser('POST', `/v1/recipients/${alice}/inbox/${bobMessage}/${action}`),
          404,
          'not_found',
        );
      }
      expectError(await asUser('DELETE', `/v1/recipients/${alice}/inbox/${bobMessage}`), 404, 'not_found');
      const bobsInbox = await stack.api('GET', `/v1/recipients/${bob}/inbox`);
      expect(bobsInbox.body.items).toEqual([
        expect.objectContaining({ id: bobMessage, readAt: null, archivedAt: null }),
      ]);
    });

    it('every tenant route answers 403, even when it names the person', async () => {
      const tenantRoutes = operations(alice, randomUUID()).filter((op) => !op.endUser);
      expect(tenantRoutes.length).toBeGreaterThan(35);
      const problems: string[] = [];
      for (const op of tenantRoutes) {
        const response = await asUser(op.method, op.url);
        try {
          expectError(response, 403, 'forbidden');
        } catch {
          problems.push(`${op.name}: ${response.status} ${JSON.stringify(response.body)}`);
        }
      }
      expect(problems).toEqual([]);
    });

    it('takes ?token= on the live inbox only, and only an end-user token there', async () => {
      expectError(await call('GET', `/v1/recipients/${alice}/inbox?token=${token}`, ''), 401, 'unauthorized');
      // An API key in a URL ends up in access logs: the query does not take one.
      const viaQuery = await fetch(`${streamUrl(alice)}?token=${stack.apiKey}`);
      expect(viaQuery.status).toBe(401);
      await viaQuery.body?.cancel();
    });
  });

  describe('refused tokens', () => {
    const key = () => endUserTokenKey(decodeSecretKey(TEST_SECRET_KEY));
    /** The token's payload decoded, changed, and put back with the original signature. */
    const tampered = (change: (claims: Record<string, unknown>) => void) => {
      const [payload, signature] = token.slice('heu_'.length).split('.');
      const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8'));
      change(claims);
      return `heu_${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    };

    it.each([
      [
        'an expired token',
        () =>
          mintEndUserToken(key(), {
            tenantId: stack.tenantId,
            recipientId: alice,
            expiresAt: new Date(Date.now() - 1000),
          }),
      ],
      ['a token whose recipient was changed', () => tampered((c) => (c.r = bob))],
      ['a token whose expiry was pushed out', () => tampered((c) => (c.exp = Number(c.exp) + 86_400))],
      ['a token whose tenant was changed', () => tampered((c) => (c.t = tenantB.id))],
      [
        'a token with a changed signature',
        () => `${token.slice(0, -4)}${token.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`,
      ],
      ['a token without its signature', () => token.split('.')[0]!],
      [
        'a token signed under another secret',
        () =>
          mintEndUserToken(endUserTokenKey(randomBytes(32)), {
            tenantId: stack.tenantId,
            recipientId: alice,
            expiresAt: new Date(Date.now() + 3_600_000),
          }),
      ],
    ])('401 for %s, on the inbox and on the live stream', async (_what, make) => {
      const bad = make();
      expectError(await asUser('GET', `/v1/recipients/${alice}/inbox`, undefined, bad), 401, 'unauthorized');
      expectError(await asUser('GET', `/v1/recipients/${bob}/inbox`, undefined, bad), 401, 'unauthorized');
      const viaQuery = await call(
        'GET',
        `/v1/recipients/${alice}/inbox/stream?token=${encodeURIComponent(bad)}`,
        '',
      );
      expectError(viaQuery, 401, 'unauthorized');
    });

    it('says an expired token has expired', async () => {
      const expired = mintEndUserToken(key(), {
        tenantId: stack.tenantId,
        recipientId: alice,
        expiresAt: new Date(Date.now() - 1000),
      });
      const refused = await asUser('GET', `/v1/recipients/${alice}/inbox`, undefined, expired);
      expect(refused.body.error.message).toMatch(/expired/);
    });
  });

  describe('tenants', () => {
    it("a token of tenant A does not open tenant B's recipient with the same externalId", async () => {
      const inbox = await asUser('GET', `/v1/recipients/${alice}/inbox?archived=false`);
      expect(JSON.stringify(inbox.body)).not.toContain(aliceOfBMessage);
      for (const action of ['read', 'archive']) {
        expectError(
          await asUser('POST', `/v1/recipients/${alice}/inbox/${aliceOfBMessage}/${action}`),
          404,
          'not_found',
        );
      }
      expectError(
        await asUser('DELETE', `/v1/recipients/${alice}/inbox/${aliceOfBMessage}`),
        404,
        'not_found',
      );
      const theirs = await call('GET', `/v1/recipients/${alice}/inbox`, `Bearer ${tenantB.key}`);
      expect(theirs.body.items).toEqual([
        expect.objectContaining({ id: aliceOfBMessage, readAt: null, archivedAt: null }),
      ]);
    });

    it('a token of tenant A for a person only B has opens nothing (404)', async () => {
      const forA = mintEndUserToken(endUserTokenKey(decodeSecretKey(TEST_SECRET_KEY)), {
        tenantId: stack.tenantId,
        recipientId: onlyInB,
        expiresAt: new Date(Date.now() + 3_600_000),
      });
      for (const path of ['inbox', 'inbox/unread-count', 'preferences', 'inbox/stream']) {
        expectError(
          await asUser('GET', `/v1/recipients/${onlyInB}/${path}`, undefined, forA),
          404,
          'not_found',
        );
      }
    });

    it("B's own token for its Alice sees only B's message", async () => {
      const minted = await call('POST', `/v1/recipients/${alice}/tokens`, `Bearer ${tenantB.key}`);
      expect(minted.status).toBe(201);
      const inbox = await asUser('GET', `/v1/recipients/${alice}/inbox`, undefined, minted.body.token);
      expect(inbox.body.items.map((m: { id: string }) => m.id)).toEqual([aliceOfBMessage]);
    });
  });
});
