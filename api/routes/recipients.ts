import { OpenAPIHono, z } from '@hono/zod-openapi';
import { deleteRecipient, getRecipient, listRecipients, upsertRecipient } from '../../db/queries/recipients';
import { securedRoute } from '../auth/access';
import type { AppEnv } from '../deps';
import { HttpError, notFound } from '../errors';
import { endUserTokenKey, mintEndUserToken } from '../auth/end-user-token';
import { EndUserTokenSchema } from './access-schemas';
import {
  errorResponse,
  identifier,
  jsonBody,
  jsonResponse,
  RecipientInputSchema,
  RecipientSchema,
} from '../schemas';

const params = z.object({ externalId: identifier('externalId', 'tech-42') });

const putRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'put',
    path: '/v1/recipients/{externalId}',
    tags: ['recipients'],
    summary: 'Create or replace a recipient',
    request: { params, body: jsonBody(RecipientInputSchema, 'The recipient') },
    responses: {
      200: jsonResponse(RecipientSchema, 'Replaced'),
      201: jsonResponse(RecipientSchema, 'Created'),
      400: errorResponse('Invalid recipient'),
    },
  },
);

const getRoute = securedRoute(
  { scope: 'read' },
  {
    method: 'get',
    path: '/v1/recipients/{externalId}',
    tags: ['recipients'],
    summary: 'Get a recipient',
    request: { params },
    responses: {
      200: jsonResponse(RecipientSchema, 'The recipient'),
      404: errorResponse('No such recipient'),
    },
  },
);

const deleteRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'delete',
    path: '/v1/recipients/{externalId}',
    tags: ['recipients'],
    summary: 'Delete a recipient (and their group memberships)',
    request: { params },
    responses: { 204: { description: 'Deleted' }, 404: errorResponse('No such recipient') },
  },
);

const tokenRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'post',
    path: '/v1/recipients/{externalId}/tokens',
    tags: ['recipients'],
    summary:
      "Mint an end-user token: opens this person's inbox, live stream, preferences and push subscriptions, and nothing else",
    request: { params },
    responses: {
      201: jsonResponse(EndUserTokenSchema, 'The token and when it expires (END_USER_TOKEN_TTL_SECONDS)'),
      404: errorResponse('No such recipient'),
      503: errorResponse('HERALD_SECRET_KEY is not set, so no token can be signed'),
    },
  },
);

const listRoute = securedRoute(
  { scope: 'read' },
  {
    method: 'get',
    path: '/v1/recipients',
    tags: ['recipients'],
    summary: 'List recipients by externalId',
    request: {
      query: z.object({
        limit: z.coerce.number().int().min(1).max(500).default(100),
        after: z.string().optional(),
      }),
    },
    responses: {
      200: jsonResponse(
        z.object({ items: z.array(RecipientSchema), nextAfter: z.string().nullable() }),
        'A page',
      ),
      400: errorResponse('Bad query'),
    },
  },
);

export const recipientRoutes = new OpenAPIHono<AppEnv>()
  .openapi(putRoute, async (c) => {
    const { recipient, created } = await upsertRecipient(
      c.var.deps.db,
      c.var.tenantId,
      c.req.valid('param').externalId,
      c.req.valid('json'),
    );
    return created ? c.json(recipient, 201) : c.json(recipient, 200);
  })
  .openapi(getRoute, async (c) => {
    const { externalId } = c.req.valid('param');
    const recipient = await getRecipient(c.var.deps.db, c.var.tenantId, externalId);
    if (!recipient) throw notFound(`recipient ${externalId}`);
    return c.json(recipient, 200);
  })
  .openapi(deleteRoute, async (c) => {
    const { externalId } = c.req.valid('param');
    if (!(await deleteRecipient(c.var.deps.db, c.var.tenantId, externalId)))
      throw notFound(`recipient ${externalId}`);
    return c.body(null, 204);
  })
  .openapi(tokenRoute, async (c) => {
    const { externalId } = c.req.valid('param');
    const { db, config, secretKey } = c.var.deps;
    if (!secretKey) {
      throw new HttpError(
        503,
        'secret_key_missing',
        'end-user tokens need HERALD_SECRET_KEY, which is not set',
        [{ path: 'HERALD_SECRET_KEY', message: 'not set' }],
      );
    }
    if (!(await getRecipient(db, c.var.tenantId, externalId))) throw notFound(`recipient ${externalId}`);
    const expiresAt = new Date(Date.now() + config.END_USER_TOKEN_TTL_SECONDS * 1000);
    const token = mintEndUserToken(endUserTokenKey(secretKey), {
      tenantId: c.var.tenantId,
      recipientId: externalId,
      expiresAt,
    });
    // PUBLIC_BASE_URL when the API sits behind a proxy; otherwise the origin this request reached.
    const base = (config.PUBLIC_BASE_URL ?? new URL(c.req.url).origin).replace(/\/+$/, '');
    const centerUrl = `${base}/app#token=${token}`;
    return c.json({ token, expiresAt: expiresAt.toISOString(), centerUrl }, 201);
  })
  .openapi(listRoute, async (c) => {
    const { limit, after } = c.req.valid('query');
    const items = await listRecipients(c.var.deps.db, c.var.tenantId, { limit, after });
    return c.json(
      { items, nextAfter: items.length === limit ? items[items.length - 1]!.externalId : null },
      200,
    );
  });
