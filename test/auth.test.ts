import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createApp } from '../api/app';
import { serveApp } from '../api/http-server';
import { hashApiKey, SCOPES, TENANT_KEY_SCOPES, type Scope } from '../common/api-keys';
import { revokeApiKey } from '../db/queries/api-keys';
import { TemplateRegistry } from '../templates/registry';
import { createKey, createTestTenant, TEST_SECRET_KEY } from './support/auth';
import { expectError } from './support/expect-error';
import { vapid } from './support/push-service';
import { startStack, uniq, waitForNotification, type ApiResponse, type Stack } from './support/stack';

/** /v1 operations that prove themselves without a key (in the document with `security: []`). */
const PUBLIC_OPERATIONS = new Set(['POST /v1/providers/twilio/status', 'POST /v1/unsubscribe/{token}']);
/**
 * /v1 routes that are deliberately not in the document: the signed acknowledgement link and the
 * unsubscribe link's page and resubscribe button (HTML pages for people).
 */
const UNDOCUMENTED_PUBLIC = new Set([
  'GET /v1/notifications/{id}/ack-link',
  'POST /v1/notifications/{id}/ack-link',
  'GET /v1/unsubscribe/{token}',
  'POST /v1/unsubscribe/{token}/resubscribe',
]);

interface Operation {
  method: string;
  path: string;
  scope: Scope;
  endUser: boolean;
  /** "GET /v1/recipients/{externalId}", for failure messages. */
  name: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the OpenAPI document as fetched
type OpenApiDocument = any;

/** A plausible value for each path parameter: the handler is reached and answers 404/400/…, never 5xx. */
function concretePath(op: { path: string }): string {
  return op.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    switch (name) {
      case 'id':
        // Schedule ids must carry Herald's prefix to reach the handler; every other id is a uuid or a string.
        return op.path.startsWith('/v1/schedules/') ? `herald-${uniq('none')}` : randomUUID();
      case 'messageId':
      case 'eventId':
        return randomUUID();
      // Unique per request, so a PUT that creates one leaves nothing the next request trips over.
      case 'externalId':
        return uniq('nobody');
      case 'key':
        return uniq('nokey');
      case 'event':
        return 'ticket.assigned';
      default:
        throw new Error(`no plausible value for path parameter {${name}} of ${op.path}: add one here`);
    }
  });
}

describe('authentication and scopes', () => {
  let stack: Stack;
  let doc: OpenApiDocument;
  let operations: Operation[];
  const publicBase = 'https://herald.example.com';

  beforeAll(async () => {
    stack = await startStack({
      apiEnv: { VAPID_PUBLIC_KEY: vapid.publicKey },
      channelEnv: { PUBLIC_BASE_URL: publicBase, HERALD_SECRET_KEY: TEST_SECRET_KEY },
    });
    const fetched = await call('GET', '/openapi.json', '');
    expect(fetched.status).toBe(200);
    doc = fetched.body;
    operations = [];
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, OpenApiDocument>>)) {
      for (const [method, op] of Object.entries(item)) {
        const name = `${method.toUpperCase()} ${path}`;
        if (PUBLIC_OPERATIONS.has(name)) continue;
        operations.push({
          method: method.toUpperCase(),
          path,
          scope: op['x-herald-scope'],
          endUser: op['x-herald-end-user'] === true,
          name,
        });
      }
    }
  });
  afterAll(async () => {
    await stack?.close();
  });

  /**
   * One request with exactly this Authorization header ('' = none). POST and PUT carry `{}` as JSON so
   * that no route answers 415; an event stream is cut off after its headers.
   */
  async function call(method: string, path: string, authorization: string): Promise<ApiResponse> {
    const controller = new AbortController();
    const headers: Record<string, string> = authorization ? { authorization } : {};
    const withBody = method === 'POST' || method === 'PUT';
    if (withBody) headers['content-type'] = 'application/json';
    const response = await fetch(`${stack.baseUrl}${path}`, {
      method,
      headers,
      body: withBody ? '{}' : undefined,
      signal: controller.signal,
    });
    let body: unknown = null;
    if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
      controller.abort();
    } else {
      const text = await response.text();
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        body = text;
      }
    }
    return { status: response.status, body, headers: response.headers };
  }

  const bearer = (key: string) => `Bearer ${key}`;

  /** Runs `check` on every operation and fails once, listing every operation that broke it. */
  async function everyOperation(
    check: (op: Operation) => Promise<string | null>,
    which: (op: Operation) => boolean = () => true,
  ): Promise<number> {
    const selected = operations.filter(which);
    const failures: string[] = [];
    for (const op of selected) {
      const problem = await check(op);
      if (problem) failures.push(`${op.name}: ${problem}`);
    }
    expect(failures).toEqual([]);
    return selected.length;
  }

  /** Null when `response` is our JSON error with this status and code; else what differs. */
  function errorProblem(response: ApiResponse, status: number, code: string): string | null {
    try {
      expectError(response, status, code);
      return null;
    } catch {
      return `expected ${status} ${code}, got ${response.status} ${JSON.stringify(response.body)}`;
    }
  }

  describe('the OpenAPI document', () => {
    it('declares the bearer scheme, and security and x-herald-scope on every /v1 operation', () => {
      expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
      expect(operations.length).toBeGreaterThan(50);
      const problems: string[] = [];
      for (const op of operations) {
        const declared = doc.paths[op.path][op.method.toLowerCase()];
        if (!op.path.startsWith('/v1/')) problems.push(`${op.name}: outside /v1`);
        if (!(SCOPES as readonly string[]).includes(op.scope))
          problems.push(`${op.name}: x-herald-scope is ${JSON.stringify(op.scope)}`);
        if (JSON.stringify(declared.security) !== JSON.stringify([{ bearerAuth: [] }]))
          problems.push(`${op.name}: security is ${JSON.stringify(declared.security)}`);
      }
      for (const name of PUBLIC_OPERATIONS) {
        const [method, path] = name.split(' ');
        expect(doc.paths[path!][method!.toLowerCase()].security).toEqual([]);
      }
      expect(problems).toEqual([]);
    });

    it('leaves no /v1 route of the app out of the document (so the walk below covers them all)', async () => {
      const app = createApp({
        db: stack.db,
        temporal: stack.client,
        templates: await TemplateRegistry.load(),
        config: stack.config,
      });
      const documented = new Set([
        ...operations.map((op) => op.name),
        ...PUBLIC_OPERATIONS,
        ...UNDOCUMENTED_PUBLIC,
      ]);
      const routes = new Set(
        app.routes
          .filter((r) => r.method !== 'ALL' && r.path.startsWith('/v1/'))
          .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`),
      );
      expect([...routes].filter((r) => !documented.has(r))).toEqual([]);
    });
  });

  describe('every operation', () => {
    let keysLacking: Map<Scope, string>;
    let keysWith: Map<Scope, string>;
    let operatorKey: string;
    let revokedKey: string;

    beforeAll(async () => {
      keysLacking = new Map();
      keysWith = new Map();
      for (const scope of SCOPES) {
        // A tenant key with every tenant scope but this one (for `operator`: every tenant scope).
        const lacking = TENANT_KEY_SCOPES.filter((s) => s !== scope);
        keysLacking.set(scope, (await createKey(stack.db, stack.tenantId, lacking)).key);
        keysWith.set(
          scope,
          scope === 'operator'
            ? (await createKey(stack.db, null, ['operator'])).key
            : (await createKey(stack.db, stack.tenantId, [scope])).key,
        );
      }
      operatorKey = keysWith.get('operator')!;
      const revoked = await createKey(stack.db, stack.tenantId, [...TENANT_KEY_SCOPES]);
      await revokeApiKey(stack.db, revoked.id);
      revokedKey = revoked.key;
    });

    const refusals: [string, () => string, string][] = [
      ['no Authorization header', () => '', 'missing'],
      ['a scheme other than Bearer', () => `Basic ${Buffer.from('user:pass').toString('base64')}`, 'basic'],
      ['a malformed key', () => bearer('hk_short'), 'malformed'],
      ['an unknown well-formed key', () => bearer(`hk_${randomBytes(32).toString('base64url')}`), 'unknown'],
      ['a revoked key', () => bearer(revokedKey), 'revoked'],
    ];

    it.each(refusals)('answers 401 with our JSON error to %s', async (_what, authorization) => {
      const count = await everyOperation(async (op) => {
        const response = await call(op.method, concretePath(op), authorization());
        return errorProblem(response, 401, 'unauthorized');
      });
      expect(count).toBe(operations.length);
    });

    it('says on a 401 which header to send', async () => {
      const response = await call('GET', '/v1/recipients', '');
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(response.body.error.details).toEqual([{ path: 'Authorization', message: expect.any(String) }]);
    });

    it("answers 403 naming the scope to a key of the tenant with every scope but the operation's", async () => {
      await everyOperation(async (op) => {
        const response = await call(op.method, concretePath(op), bearer(keysLacking.get(op.scope)!));
        const problem = errorProblem(response, 403, 'forbidden');
        if (problem) return problem;
        return response.body.error.message.includes(`'${op.scope}'`)
          ? null
          : `the error does not name '${op.scope}': ${response.body.error.message}`;
      });
    });

    it('answers 403 to an operator key on every tenant operation', async () => {
      const count = await everyOperation(
        async (op) =>
          errorProblem(await call(op.method, concretePath(op), bearer(operatorKey)), 403, 'forbidden'),
        (op) => op.scope !== 'operator',
      );
      expect(count).toBeGreaterThan(40);
    });

    it('lets a key with just the scope through (neither 401 nor 403, nor a 500)', async () => {
      await everyOperation(async (op) => {
        const response = await call(op.method, concretePath(op), bearer(keysWith.get(op.scope)!));
        return [401, 403, 500].includes(response.status)
          ? `got ${response.status} ${JSON.stringify(response.body)}`
          : null;
      });
    });
  });

  describe('public routes', () => {
    it.each([
      ['/healthz', /^application\/json/],
      ['/readyz', /^application\/json/],
      ['/docs', /^text\/html/],
      ['/openapi.json', /^application\/json/],
    ])('%s needs no key', async (path, type) => {
      const response = await call('GET', path, '');
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(type);
    });

    it('the signed acknowledgement link needs no key', async () => {
      const id = uniq('linked');
      const email = `${id}@example.com`;
      expect((await stack.api('PUT', `/v1/recipients/${id}`, { email })).status).toBe(201);
      const created = await stack.api('POST', '/v1/notifications', {
        event: 'ticket.assigned',
        to: { recipients: [id] },
        data: { ticketId: '77', title: 'Link me' },
        channels: ['email'],
        escalation: { levels: [{ afterSeconds: 300, channels: ['email'] }] },
      });
      expect(created.status).toBe(202);
      const [mail] = await stack.sink.waitFor((all) => all.some((m) => m.envelopeTo.includes(email)));
      const link = /Acknowledge \(stops the escalation\): (\S+)/.exec(mail!.text)?.[1];
      expect(link).toBeDefined();
      const local = link!.replace(publicBase, stack.baseUrl);
      const shown = await fetch(local);
      expect(shown.status).toBe(200);
      const acked = await fetch(local, { method: 'POST' });
      expect(acked.status).toBe(200);
      expect(await acked.text()).toContain('Acknowledged');
      expect((await waitForNotification(stack, created.body.id)).status).toBe('completed');
    });

    it.each([
      ['GET', '/v1/unsubscribe/bm90LWEtdG9rZW4'],
      ['POST', '/v1/unsubscribe/bm90LWEtdG9rZW4'],
      ['POST', '/v1/unsubscribe/bm90LWEtdG9rZW4/resubscribe'],
    ])('%s %s needs no key (it checks its own signed token)', async (method, path) => {
      const response = await fetch(`${stack.baseUrl}${path}`, {
        method,
        headers: method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {},
        body: method === 'POST' ? 'List-Unsubscribe=One-Click' : undefined,
      });
      // The token check answers, not the key check (test/unsubscribe.test.ts has the genuine ones).
      expect(response.status).toBe(403);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('invalid_token');
    });

    it('the Twilio callback needs no key (it checks its own signature)', async () => {
      const response = await fetch(`${stack.baseUrl}/v1/providers/twilio/status`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'MessageSid=SM1&MessageStatus=delivered',
      });
      const body = (await response.json()) as { error: { code: string } };
      expect(response.status).not.toBe(401);
      // TWILIO_AUTH_TOKEN is not set on this stack: its own check answers, not the key check.
      expect(body.error.code).not.toBe('unauthorized');
      expect([403, 503]).toContain(response.status);
    });
  });

  describe('API keys through the API', () => {
    const as = (key: string, method: string, path: string, body?: unknown) =>
      stack.api(method, path, body, { authorization: bearer(key) });

    it('creates a key that works with its scopes, shown once; lists never show the key or its hash', async () => {
      const created = await stack.api('POST', '/v1/api-keys', { name: 'reporting', scopes: ['read'] });
      expect(created.status).toBe(201);
      const { key, id } = created.body;
      expect(key).toMatch(/^hk_[A-Za-z0-9_-]{43}$/);
      expect(created.body).toMatchObject({ name: 'reporting', scopes: ['read'], prefix: key.slice(0, 11) });

      expect((await as(key, 'GET', '/v1/recipients')).status).toBe(200);
      const refused = await as(key, 'PUT', `/v1/recipients/${uniq('r')}`, { name: 'x' });
      expectError(refused, 403, 'forbidden');
      expect(refused.body.error.message).toContain("'manage'");

      const listed = await stack.api('GET', '/v1/api-keys');
      expect(listed.status).toBe(200);
      const mine = listed.body.items.find((k: { id: string }) => k.id === id);
      expect(mine).toMatchObject({ id, name: 'reporting', scopes: ['read'], revokedAt: null });
      const text = JSON.stringify(listed.body);
      expect(text).not.toContain(key);
      expect(text).not.toContain(hashApiKey(key));
      for (const item of listed.body.items) {
        expect(Object.keys(item)).not.toEqual(expect.arrayContaining(['key']));
        expect(Object.keys(item).filter((k) => /hash/i.test(k))).toEqual([]);
      }
    });

    it('revokes a key: refused from the next request on, by this API and by a second one', async () => {
      const { key, id } = (await stack.api('POST', '/v1/api-keys', { scopes: ['read'] })).body;
      const second = createApp({
        db: stack.db,
        temporal: stack.client,
        templates: await TemplateRegistry.load(),
        config: stack.config,
      });
      const server = await new Promise<ReturnType<typeof serveApp>>((resolve) => {
        const s = serveApp(second, { port: 0, hostname: '127.0.0.1' }, () => resolve(s));
      });
      const secondUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        const viaSecond = () =>
          fetch(`${secondUrl}/v1/recipients`, { headers: { authorization: bearer(key) } });
        expect((await viaSecond()).status).toBe(200);
        expect((await as(key, 'GET', '/v1/recipients')).status).toBe(200);

        const revoked = await stack.api('DELETE', `/v1/api-keys/${id}`);
        expect(revoked.status).toBe(200);
        expect(revoked.body).toMatchObject({ id, revokedAt: expect.any(String) });
        expect(JSON.stringify(revoked.body)).not.toContain(key);

        expectError(await as(key, 'GET', '/v1/recipients'), 401, 'unauthorized');
        expect((await viaSecond()).status).toBe(401);
        const listed = (await stack.api('GET', '/v1/api-keys')).body.items;
        expect(listed.find((k: { id: string }) => k.id === id)?.revokedAt).toEqual(expect.any(String));
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });

    it('cannot grant a scope the calling key lacks (403), nor operator (400)', async () => {
      const admin = (await createKey(stack.db, stack.tenantId, ['admin', 'read'])).key;
      const beyond = await as(admin, 'POST', '/v1/api-keys', { scopes: ['read', 'send'] });
      expectError(beyond, 403, 'forbidden');
      expect(beyond.body.error.message).toContain('send');
      expect(beyond.body.error.details).toEqual([
        { path: 'scopes', message: expect.stringContaining('send') },
      ]);
      expect((await as(admin, 'POST', '/v1/api-keys', { scopes: ['read'] })).status).toBe(201);

      // The stack's key has every tenant scope and critical; operator is still out of reach.
      const operator = await stack.api('POST', '/v1/api-keys', { scopes: ['operator'] });
      expectError(operator, 400, 'validation_failed');
      expect(operator.body.error.details[0].path).toMatch(/^scopes/);
    });

    it("cannot revoke another tenant's key (404, like a key that does not exist), nor see it", async () => {
      const other = uniq('tenant');
      const { key: otherKey } = await createTestTenant(stack.db, other);
      const theirs = (await as(otherKey, 'POST', '/v1/api-keys', { scopes: ['read'] })).body;
      expect(theirs.id).toEqual(expect.any(String));

      const foreign = await stack.api('DELETE', `/v1/api-keys/${theirs.id}`);
      const missing = await stack.api('DELETE', `/v1/api-keys/key_${randomBytes(10).toString('hex')}`);
      expectError(foreign, 404, 'not_found');
      expectError(missing, 404, 'not_found');
      expect((await as(theirs.key, 'GET', '/v1/recipients')).status).toBe(200);
      const ours = (await stack.api('GET', '/v1/api-keys')).body.items.map((k: { id: string }) => k.id);
      expect(ours).not.toContain(theirs.id);
    });
  });

  describe('priority critical', () => {
    it('needs the critical scope (403 naming it, nothing recorded); a key with it may send', async () => {
      const id = uniq('critical');
      expect((await stack.api('PUT', `/v1/recipients/${id}`, { email: `${id}@example.com` })).status).toBe(
        201,
      );
      const body = {
        event: 'ticket.assigned',
        to: { recipients: [id] },
        priority: 'critical',
        channels: ['email'],
        data: { ticketId: '1', title: 'Core switch down' },
      };
      const countFor = async () =>
        Number(
          (
            await stack.db.query(
              `SELECT count(*) AS n FROM notifications WHERE tenant_id = $1 AND request->'to'->'recipients' ? $2`,
              [stack.tenantId, id],
            )
          ).rows[0].n,
        );
      const sender = (await createKey(stack.db, stack.tenantId, ['send', 'read', 'manage', 'admin'])).key;
      const refused = await stack.api('POST', '/v1/notifications', body, { authorization: bearer(sender) });
      expectError(refused, 403, 'forbidden');
      expect(refused.body.error.message).toContain("'critical'");
      expect(await countFor()).toBe(0);

      const normal = await stack.api(
        'POST',
        '/v1/notifications',
        { ...body, priority: 'high' },
        { authorization: bearer(sender) },
      );
      expect(normal.status).toBe(202);
      const critical = (await createKey(stack.db, stack.tenantId, ['send', 'critical'])).key;
      const sent = await stack.api('POST', '/v1/notifications', body, { authorization: bearer(critical) });
      expect(sent.status).toBe(202);
      expect(await countFor()).toBe(2);
    });
  });
});
