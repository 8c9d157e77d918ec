import { startStack, type Stack } from './support/stack';

describe('health, OpenAPI document and docs page', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  it('/healthz says the process is up and /readyz checks the database and Temporal', async () => {
    expect(await stack.api('GET', '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await stack.api('GET', '/readyz')).toMatchObject({
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
  ] as const;

  it('/openapi.json documents every route, with the shared error shape', async () => {
    const { status, body } = await stack.api('GET', '/openapi.json');
    expect(status).toBe(200);
    expect(body.openapi).toMatch(/^3\./);
    for (const [method, path] of documentedRoutes) expect(body.paths[path]?.[method]).toBeDefined();
    expect(body.components.schemas.Error.properties.error).toBeDefined();
    expect(body.paths['/v1/notifications'].post.responses['422']).toBeDefined();
  });

  it('/docs is an HTML page listing the routes', async () => {
    const response = await fetch(`${stack.baseUrl}/docs`);
    expect(response.headers.get('content-type')).toContain('text/html');
    const html = await response.text();
    for (const [, path] of documentedRoutes) expect(html).toContain(path);
  });
});
