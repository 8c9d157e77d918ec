import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { deleteRecipient, getRecipient, listRecipients, upsertRecipient } from '../../db/queries/recipients';
import type { AppEnv } from '../deps';
import { notFound } from '../errors';
import {
  errorResponse,
  identifier,
  jsonBody,
  jsonResponse,
  RecipientInputSchema,
  RecipientSchema,
} from '../schemas';

const params = z.object({ externalId: identifier('externalId', 'tech-42') });

const putRoute = createRoute({
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
});

const getRoute = createRoute({
  method: 'get',
  path: '/v1/recipients/{externalId}',
  tags: ['recipients'],
  summary: 'Get a recipient',
  request: { params },
  responses: { 200: jsonResponse(RecipientSchema, 'The recipient'), 404: errorResponse('No such recipient') },
});

const deleteRoute = createRoute({
  method: 'delete',
  path: '/v1/recipients/{externalId}',
  tags: ['recipients'],
  summary: 'Delete a recipient (and their group memberships)',
  request: { params },
  responses: { 204: { description: 'Deleted' }, 404: errorResponse('No such recipient') },
});

const listRoute = createRoute({
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
});

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
  .openapi(listRoute, async (c) => {
    const { limit, after } = c.req.valid('query');
    const items = await listRecipients(c.var.deps.db, c.var.tenantId, { limit, after });
    return c.json(
      { items, nextAfter: items.length === limit ? items[items.length - 1]!.externalId : null },
      200,
    );
  });
