import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { Audience } from '../../common/types';
import {
  getDeadline,
  markDeadlineDone,
  overdueVariables,
  upsertDeadline,
  type Deadline,
} from '../../db/queries/deadlines';
import { securedRoute } from '../auth/access';
import type { ApiDeps, AppEnv } from '../deps';
import { notFound } from '../errors';
import { checkReferences } from '../services/notifications';
import { checkSendCap } from '../services/send-limits';
import { AudienceSchema, errorResponse, identifier, jsonBody, jsonResponse } from '../schemas';

const params = z.object({ key: identifier('key', 'ticket-1042') });

const DeadlineInputSchema = z
  .object({
    dueAt: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 time' }).openapi({
      example: '2025-03-14T17:00:00Z',
    }),
    event: z.string().min(1).max(200).default('ticket.overdue').openapi({ example: 'ticket.overdue' }),
    to: AudienceSchema.openapi({ example: { recipients: ['tech-42', 'helpdesk-7'] } }),
    data: z
      .record(z.string(), z.unknown())
      .default({})
      .openapi({ example: { ticketId: '1042', title: 'VPN drops every 10 minutes' } }),
  })
  .strict()
  .openapi('DeadlineInput');

const DeadlineSchema = z
  .object({
    key: z.string(),
    dueAt: z.string(),
    event: z.string(),
    to: z.record(z.string(), z.array(z.string())),
    data: z.record(z.string(), z.unknown()),
    status: z.enum(['open', 'done']),
    doneAt: z.string().nullable(),
    lastNotifiedAt: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Deadline');

const putRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'put',
    path: '/v1/deadlines/{key}',
    tags: ['deadlines'],
    summary: 'Register or replace an item with a due time (re-opens a done item)',
    request: { params, body: jsonBody(DeadlineInputSchema, 'The item') },
    responses: {
      200: jsonResponse(DeadlineSchema, 'Replaced'),
      201: jsonResponse(DeadlineSchema, 'Created'),
      400: errorResponse('Invalid item'),
      422: errorResponse(
        'Unknown event, group or recipient, missing template variables, or more sends than MAX_SENDS_PER_NOTIFICATION',
      ),
    },
  },
);

const getRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'get',
    path: '/v1/deadlines/{key}',
    tags: ['deadlines'],
    summary: 'Get an item',
    request: { params },
    responses: { 200: jsonResponse(DeadlineSchema, 'The item'), 404: errorResponse('No such item') },
  },
);

const doneRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'post',
    path: '/v1/deadlines/{key}/done',
    tags: ['deadlines'],
    summary: 'Close an item: the overdue workflow no longer notifies about it',
    request: { params },
    responses: { 200: jsonResponse(DeadlineSchema, 'Closed'), 404: errorResponse('No such item') },
  },
);

const view = ({ tenantId: _tenantId, ...rest }: Deadline) => rest;

/**
 * What the overdue notification will need, checked now rather than at send time: the event exists,
 * its required variables are given (besides `dueAt` and `hoursOverdue`, which the run fills in), and
 * the groups and recipients exist.
 */
async function checkDeadline(
  deps: ApiDeps,
  tenantId: string,
  input: { event: string; to: Audience; data: Record<string, unknown>; dueAt: string },
): Promise<void> {
  // The same checks as a notification, with the variables the overdue run fills in itself.
  const data = { ...overdueVariables(new Date(input.dueAt).toISOString(), new Date()), ...input.data };
  await checkReferences(deps, tenantId, { event: input.event, to: input.to, data });
  // Each overdue run sends this notification: the cap holds for it as for one sent directly.
  await checkSendCap(deps, tenantId, { event: input.event, to: input.to });
}

export const deadlineRoutes = new OpenAPIHono<AppEnv>()
  .openapi(putRoute, async (c) => {
    const { key } = c.req.valid('param');
    const input = c.req.valid('json');
    await checkDeadline(c.var.deps, c.var.tenantId, input);
    const { deadline, created } = await upsertDeadline(c.var.deps.db, c.var.tenantId, key, {
      ...input,
      dueAt: new Date(input.dueAt),
    });
    return created ? c.json(view(deadline), 201) : c.json(view(deadline), 200);
  })
  .openapi(getRoute, async (c) => {
    const { key } = c.req.valid('param');
    const deadline = await getDeadline(c.var.deps.db, c.var.tenantId, key);
    if (!deadline) throw notFound(`deadline ${key}`);
    return c.json(view(deadline), 200);
  })
  .openapi(doneRoute, async (c) => {
    const { key } = c.req.valid('param');
    const deadline = await markDeadlineDone(c.var.deps.db, c.var.tenantId, key);
    if (!deadline) throw notFound(`deadline ${key}`);
    return c.json(view(deadline), 200);
  });
