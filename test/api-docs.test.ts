import { startStack, type Stack } from './support/stack';

describe('health, OpenAPI document and docs page', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  /** Health, the document and the docs page need no key. */
  const anonymous = (path: string) => stack.api('GET', path, undefined, { authorization: '' });

  it('/healthz says the process is up and /readyz checks the database and Temporal', async () => {
    expect(await anonymous('/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await anonymous('/readyz')).toMatchObject({
      status: 200,
      body: { status: 'ready', checks: { database: { ok: true }, temporal: { ok: true } } },
    });
  });

  const documentedRoutes = [
    ['post', '/v1/notifications'],
    ['get', '/v1/notifications'],
    ['get', '/v1/notifications/{id}'],
    ['get', '/v1/deliveries'],
    ['put', '/v1/recipients/{externalId}'],
    ['get', '/v1/recipients/{externalId}'],
    ['delete', '/v1/recipients/{externalId}'],
    ['put', '/v1/groups/{key}'],
    ['get', '/v1/groups'],
    ['put', '/v1/groups/{key}/members/{externalId}'],
    ['delete', '/v1/groups/{key}/members/{externalId}'],
    ['get', '/v1/templates'],
    ['post', '/v1/templates/{event}/preview'],
    ['get', '/v1/api-keys'],
    ['post', '/v1/api-keys'],
    ['delete', '/v1/api-keys/{id}'],
    ['get', '/v1/tenants'],
    ['post', '/v1/tenants'],
    ['post', '/v1/recipients/{externalId}/tokens'],
    ['post', '/v1/recipients/{externalId}/inbox/{messageId}/read'],
    ['delete', '/v1/recipients/{externalId}/inbox/{messageId}'],
  ] as const;

  it('/openapi.json documents every route, with the shared error shape', async () => {
    const { status, body } = await anonymous('/openapi.json');
    expect(status).toBe(200);
    expect(body.openapi).toMatch(/^3\./);
    for (const [method, path] of documentedRoutes) expect(body.paths[path]?.[method]).toBeDefined();
    // Inbox messages are reached through their recipient now; the old paths are gone.
    expect(Object.keys(body.paths).filter((p) => p.startsWith('/v1/inbox'))).toEqual([]);
    expect(body.components.schemas.Error.properties.error).toBeDefined();
    expect(body.paths['/v1/notifications'].post.responses['422']).toBeDefined();
  });

  it('/docs is the Scalar reference over /openapi.json, its script served from here', async () => {
    const response = await fetch(`${stack.baseUrl}/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    const html = await response.text();
    expect(html).toContain('<script src="/docs/scalar.js"></script>');
    expect(html).toContain('"url": "/openapi.json"');
    // No CDN, no remote fonts: the one absolute URL is this server, as the "try it" server.
    expect(html.match(/https?:\/\/[^\s"'<>]+/g)).toEqual([stack.baseUrl]);
    const script = await fetch(`${stack.baseUrl}/docs/scalar.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toContain('javascript');
    expect((await script.text()).length).toBeGreaterThan(1_000_000);
  });

  it('/openapi.json says who may call each operation and carries the README example', async () => {
    const { body } = await anonymous('/openapi.json');
    expect(body.info.description).toContain('curl -s -X POST http://127.0.0.1:3000/v1/notifications');
    expect(body.paths['/v1/notifications'].post.description).toContain('Requires scope `send`.');
    expect(body.paths['/v1/unsubscribe/{token}'].post.description).toContain('Public: no API key');
  });
});
