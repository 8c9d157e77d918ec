import { OpenAPIHono } from '@hono/zod-openapi';
import { getTenantQuietHours, putTenantQuietHours } from '../../db/queries/tenants';
import { securedRoute } from '../auth/access';
import type { AppEnv } from '../deps';
import { errorResponse, jsonBody, jsonResponse, TenantQuietHoursSchema } from '../schemas';

const getRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'get',
    path: '/v1/settings/quiet-hours',
    tags: ['settings'],
    summary: "The tenant's default quiet hours",
    responses: { 200: jsonResponse(TenantQuietHoursSchema, 'The defaults (nulls: none)') },
  },
);

const putRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'put',
    path: '/v1/settings/quiet-hours',
    tags: ['settings'],
    summary: "Set the tenant's default quiet hours, for recipients who have none of their own",
    request: { body: jsonBody(TenantQuietHoursSchema, 'The defaults; nulls remove them') },
    responses: {
      200: jsonResponse(TenantQuietHoursSchema, 'Stored'),
      400: errorResponse('Invalid window or zone'),
    },
  },
);

export const settingsRoutes = new OpenAPIHono<AppEnv>()
  .openapi(getRoute, async (c) => c.json(await getTenantQuietHours(c.var.deps.db, c.var.tenantId), 200))
  .openapi(putRoute, async (c) => {
    await putTenantQuietHours(c.var.deps.db, c.var.tenantId, c.req.valid('json'));
    return c.json(await getTenantQuietHours(c.var.deps.db, c.var.tenantId), 200);
  });
