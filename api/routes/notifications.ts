import { OpenAPIHono, z } from '@hono/zod-openapi';
import { requireScope, securedRoute } from '../auth/access';
import type { AppEnv } from '../deps';
import { HttpError } from '../errors';
import {
  AckRequestSchema,
  AckResultSchema,
  CancelResultSchema,
  DeliveryQuerySchema,
  DeliverySchema,
  errorResponse,
  uuidParam,
  jsonBody,
  jsonResponse,
  ListQuerySchema,
  NotificationCreatedSchema,
  NotificationRequestSchema,
  NotificationSummarySchema,
  NotificationViewSchema,
  pageOf,
} from '../schemas';
import {
  acknowledgeNotification,
  cancelNotification,
  createNotification,
  getNotificationView,
  listDeliveryPage,
  listNotificationPage,
} from '../services/notifications';

const IdempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .min(1)
    .max(255)
    .optional()
    .openapi({
      param: { name: 'idempotency-key', in: 'header' },
      description: 'Same key + same body = same notification (kept 7 days at least).',
    }),
});

const createNotificationRoute = securedRoute(
  { scope: 'send' },
  {
    method: 'post',
    path: '/v1/notifications',
    tags: ['notifications'],
    summary: 'Send a notification (starts its workflow)',
    request: {
      headers: IdempotencyHeaders,
      body: jsonBody(NotificationRequestSchema, 'What to send, to whom'),
    },
    responses: {
      202: jsonResponse(NotificationCreatedSchema, 'Accepted; the workflow is running'),
      400: errorResponse('Malformed request'),
      403: errorResponse("priority critical with a key that lacks the scope 'critical'"),
      413: errorResponse('Body over the size limit'),
      422: errorResponse(
        'Unknown event, group or recipient, missing template variables, an idempotency key reused with another body, ' +
          'or more sends than MAX_SENDS_PER_NOTIFICATION (`send_limit_exceeded`)',
      ),
      429: errorResponse(
        'Rate limit reached, or a daily quota (`quota_exceeded`, naming the channel as `quota.<channel>`); Retry-After says when to retry',
      ),
      503: errorResponse('Temporal unavailable; nothing was started'),
    },
  },
);

const getNotificationRoute = securedRoute(
  { scope: 'read' },
  {
    method: 'get',
    path: '/v1/notifications/{id}',
    tags: ['notifications'],
    summary: 'State of a notification, per recipient and channel',
    request: {
      params: z.object({ id: uuidParam('id', 'not a notification id') }),
    },
    responses: {
      200: jsonResponse(NotificationViewSchema, 'The notification'),
      400: errorResponse('Malformed id'),
      404: errorResponse('No such notification'),
    },
  },
);

const notificationIdParams = z.object({
  id: uuidParam('id', 'not a notification id'),
});

const ackRoute = securedRoute(
  { scope: 'send' },
  {
    method: 'post',
    path: '/v1/notifications/{id}/ack',
    tags: ['notifications'],
    summary:
      'Acknowledge a notification: its escalation stops (answers at once whether the ack was accepted)',
    request: { params: notificationIdParams, body: jsonBody(AckRequestSchema, 'Who acknowledges') },
    responses: {
      200: jsonResponse(AckResultSchema, 'Accepted, or not and why (e.g. already acknowledged)'),
      400: errorResponse('Malformed request'),
      404: errorResponse('No such notification'),
      409: errorResponse('The notification has finished'),
    },
  },
);

const cancelRoute = securedRoute(
  { scope: 'send' },
  {
    method: 'post',
    path: '/v1/notifications/{id}/cancel',
    tags: ['notifications'],
    summary: 'Cancel a notification: every pending batch, retry and escalation stops',
    request: { params: notificationIdParams },
    responses: {
      200: jsonResponse(CancelResultSchema, 'Cancelled; what was still pending'),
      404: errorResponse('No such notification'),
      409: errorResponse('The notification has finished'),
    },
  },
);

const listNotificationsRoute = securedRoute(
  { scope: 'read' },
  {
    method: 'get',
    path: '/v1/notifications',
    tags: ['notifications'],
    summary: 'List notifications, newest first',
    request: { query: ListQuerySchema },
    responses: {
      200: jsonResponse(pageOf(NotificationSummarySchema, 'NotificationPage'), 'A page of notifications'),
      400: errorResponse('Bad filter'),
    },
  },
);

const listDeliveriesRoute = securedRoute(
  { scope: 'read' },
  {
    method: 'get',
    path: '/v1/deliveries',
    tags: ['notifications'],
    summary: 'The delivery log, newest first',
    request: { query: DeliveryQuerySchema },
    responses: {
      200: jsonResponse(pageOf(DeliverySchema, 'DeliveryPage'), 'A page of deliveries'),
      400: errorResponse('Bad filter'),
    },
  },
);

export const notificationRoutes = new OpenAPIHono<AppEnv>()
  .openapi(createNotificationRoute, async (c) => {
    const body = c.req.valid('json');
    const headerKey = c.req.valid('header')['idempotency-key'];
    if (headerKey && body.idempotencyKey && headerKey !== body.idempotencyKey) {
      throw new HttpError(
        400,
        'validation_failed',
        'Idempotency-Key header and idempotencyKey field differ',
        [{ path: 'idempotencyKey', message: 'differs from the Idempotency-Key header' }],
      );
    }
    // critical overrides every person's opt-outs and quiet hours: only keys trusted with it may send it.
    if (body.priority === 'critical') requireScope(c, 'critical');
    const { idempotencyKey, ...request } = body;
    const created = await createNotification(
      c.var.deps,
      c.var.tenantId,
      request,
      headerKey ?? idempotencyKey,
    );
    if (created.replayed) c.header('Idempotent-Replayed', 'true');
    const { replayed: _replayed, ...response } = created;
    return c.json(response, 202);
  })
  .openapi(getNotificationRoute, async (c) => {
    const view = await getNotificationView(c.var.deps, c.var.tenantId, c.req.valid('param').id);
    return c.json(view, 200);
  })
  .openapi(ackRoute, async (c) => {
    const result = await acknowledgeNotification(
      c.var.deps,
      c.var.tenantId,
      c.req.valid('param').id,
      c.req.valid('json').by,
    );
    return c.json(result, 200);
  })
  .openapi(cancelRoute, async (c) => {
    return c.json(await cancelNotification(c.var.deps, c.var.tenantId, c.req.valid('param').id), 200);
  })
  .openapi(listNotificationsRoute, async (c) => {
    const { limit, cursor, ...filter } = c.req.valid('query');
    return c.json(await listNotificationPage(c.var.deps, c.var.tenantId, filter, limit, cursor), 200);
  })
  .openapi(listDeliveriesRoute, async (c) => {
    const { limit, cursor, notification, ...filter } = c.req.valid('query');
    const page = await listDeliveryPage(
      c.var.deps,
      c.var.tenantId,
      { ...filter, notificationId: notification },
      limit,
      cursor,
    );
    return c.json(page, 200);
  });
