import { OpenAPIHono, z } from '@hono/zod-openapi';
import { createApiKey, listApiKeys, revokeApiKey } from '../../db/queries/api-keys';
import { securedRoute, forbidden } from '../auth/access';
import type { AppEnv } from '../deps';
import { notFound } from '../errors';
import { errorResponse, identifier, jsonBody, jsonResponse } from '../schemas';
import { ApiKeyRequestSchema, ApiKeySchema, CreatedApiKeySchema } from './access-schemas';

const listRoute = securedRoute(
  { scope: 'admin' },
  {
    method: 'get',
    path: '/v1/api-keys',
    tags: ['access'],
    summary: "The tenant's API keys (never the keys themselves)",
    responses: { 200: jsonResponse(z.object({ items: z.array(ApiKeySchema) }), 'The keys, oldest first') },
  },
);

const createKeyRoute = securedRoute(
  { scope: 'admin' },
  {
    method: 'post',
    path: '/v1/api-keys',
    tags: ['access'],
    summary: 'Create a key for this tenant (the key is in this answer only)',
    request: { body: jsonBody(ApiKeyRequestSchema, 'Its name and scopes') },
    responses: {
      201: jsonResponse(CreatedApiKeySchema, 'Created'),
      400: errorResponse('Invalid scopes or name'),
      403: errorResponse('A scope the calling key does not have'),
    },
  },
);

const revokeRoute = securedRoute(
  { scope: 'admin' },
  {
    method: 'delete',
    path: '/v1/api-keys/{id}',
    tags: ['access'],
    summary: 'Revoke a key: refused from the next request on, by every API process',
    request: { params: z.object({ id: identifier('id', 'key_3f9c0a…') }) },
    responses: { 200: jsonResponse(ApiKeySchema, 'Revoked'), 404: errorResponse('No such key') },
  },
);

export const apiKeyRoutes = new OpenAPIHono<AppEnv>()
  .openapi(listRoute, async (c) => c.json({ items: await listApiKeys(c.var.deps.db, c.var.tenantId) }, 200))
  .openapi(createKeyRoute, async (c) => {
    const { name, scopes } = c.req.valid('json');
    const principal = c.var.principal;
    const own = principal.kind === 'api_key' ? principal.scopes : [];
    // No key can mint one that may do more than itself.
    const beyond = scopes.filter((s) => !own.includes(s));
    if (beyond.length > 0) {
      throw forbidden(`a key cannot grant scopes it lacks: ${beyond.join(', ')}`, 'scopes');
    }
    const { key, info } = await createApiKey(c.var.deps.db, {
      tenantId: c.var.tenantId,
      name: name ?? 'api key',
      scopes,
    });
    return c.json({ ...info, key }, 201);
  })
  .openapi(revokeRoute, async (c) => {
    const { id } = c.req.valid('param');
    const revoked = await revokeApiKey(c.var.deps.db, id, c.var.tenantId);
    if (!revoked) throw notFound(`API key ${id}`);
    return c.json(revoked, 200);
  });
