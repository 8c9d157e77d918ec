import { OpenAPIHono, z } from '@hono/zod-openapi';
import { listTenants } from '../../db/queries/tenants';
import { securedRoute } from '../auth/access';
import type { AppEnv } from '../deps';
import { HttpError } from '../errors';
import { errorResponse, jsonBody, jsonResponse } from '../schemas';
import { createTenantWithKey } from '../services/tenancy';
import { CreatedTenantSchema, TenantRequestSchema, TenantSchema } from './access-schemas';

const listRoute = securedRoute(
  { scope: 'operator' },
  {
    method: 'get',
    path: '/v1/tenants',
    tags: ['access'],
    summary: 'Every tenant (operator keys only)',
    responses: { 200: jsonResponse(z.object({ items: z.array(TenantSchema) }), 'The tenants') },
  },
);

const createTenantRoute = securedRoute(
  { scope: 'operator' },
  {
    method: 'post',
    path: '/v1/tenants',
    tags: ['access'],
    summary: 'Create a tenant and its first key (operator keys only)',
    request: { body: jsonBody(TenantRequestSchema, 'The tenant') },
    responses: {
      201: jsonResponse(CreatedTenantSchema, 'Created; the key is in this answer only'),
      400: errorResponse('Invalid id'),
      409: errorResponse('The id is taken'),
    },
  },
);

export const tenantRoutes = new OpenAPIHono<AppEnv>()
  .openapi(listRoute, async (c) => c.json({ items: await listTenants(c.var.deps.db) }, 200))
  .openapi(createTenantRoute, async (c) => {
    const { id, name } = c.req.valid('json');
    const created = await createTenantWithKey(c.var.deps.db, id, name);
    if (!created) {
      throw new HttpError(409, 'conflict', `tenant ${id} exists already`, [{ path: 'id', message: 'taken' }]);
    }
    return c.json(created, 201);
  });
