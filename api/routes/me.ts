import { OpenAPIHono, z } from '@hono/zod-openapi';
import { securedRoute } from '../auth/access';
import type { AppEnv } from '../deps';
import { jsonResponse } from '../schemas';

/**
 * Who the caller is. A browser holding only an end-user token learns from here whose routes it
 * opens (`/v1/recipients/{externalId}/…`): the embeddable inbox and the center start here.
 */
const MeSchema = z
  .discriminatedUnion('kind', [
    z
      .object({
        kind: z.literal('end_user'),
        externalId: z.string().openapi({ example: 'tech-42', description: 'the person the token opens' }),
        tenantId: z.string(),
        expiresAt: z.string().openapi({ description: 'when the token stops working' }),
      })
      .openapi('MeEndUser'),
    z
      .object({
        kind: z.literal('api_key'),
        tenantId: z.string(),
        scopes: z.array(z.string()),
      })
      .openapi('MeApiKey'),
  ])
  .openapi('Me');

const meRoute = securedRoute(
  { scope: 'read', endUser: true },
  {
    method: 'get',
    path: '/v1/me',
    tags: ['recipients'],
    summary:
      'Who the credential belongs to: the person of an end-user token, or the tenant and scopes of a key',
    responses: { 200: jsonResponse(MeSchema, 'The caller') },
  },
);

export const meRoutes = new OpenAPIHono<AppEnv>().openapi(meRoute, (c) => {
  const principal = c.var.principal;
  if (principal.kind === 'end_user') {
    return c.json(
      {
        kind: 'end_user' as const,
        externalId: principal.recipientId,
        tenantId: principal.tenantId,
        expiresAt: principal.expiresAt.toISOString(),
      },
      200,
    );
  }
  return c.json({ kind: 'api_key' as const, tenantId: c.var.tenantId, scopes: [...principal.scopes] }, 200);
});
