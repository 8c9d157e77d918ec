import { OpenAPIHono, z } from '@hono/zod-openapi';
import { forbidden, hasScope, requireScope, securedRoute } from '../auth/access';
import type { AppEnv } from '../deps';
import { formatPath, HttpError, validationFailed } from '../errors';
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
  INLINE_DELIVERIES,
  listDeliveryPage,
  listNotificationDeliveryPage,
  listNotificationPage,
} from '../services/notifications';
import { createNotifications, type BulkEntry } from '../services/bulk-notifications';
import {
  BulkNotificationRequestSchema,
  BulkNotificationResultSchema,
  MAX_BULK_NOTIFICATIONS,
  NotificationBulkItemSchema,
  NotificationDeliveriesQuerySchema,
  NotificationDeliveryPageSchema,
} from './notification-schemas';

/** Its own body limit (BULK_BODY_LIMIT_BYTES, api/app.ts): 1,000 notifications do not fit the default. */
export const BULK_NOTIFICATIONS_PATH = '/v1/notifications/bulk';

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
    description:
      '`counts` are read from the delivery log on each request, so they move while the notification runs. ' +
      `\`recipients\` shows the first ${INLINE_DELIVERIES} deliveries (by id) only; \`deliveryPage\` says how many ` +
      'there are in all, and `links.deliveries` (GET /v1/notifications/{id}/deliveries) pages through every one.',
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

const bulkRoute = securedRoute(
  { scope: 'send' },
  {
    method: 'post',
    path: BULK_NOTIFICATIONS_PATH,
    tags: ['notifications'],
    summary: `Send up to ${MAX_BULK_NOTIFICATIONS} notifications in one call, answered per item`,
    description:
      'Each item is what POST /v1/notifications takes, with its `idempotencyKey` required in the item ' +
      '(there is no Idempotency-Key header here; keys are shared with POST /v1/notifications). ' +
      'The answer is 200 with one result per item, in order (207-style, in a 200): `created` (recorded and ' +
      'started), `existing` (the key was used before with the same body: the same id, nothing new started) or ' +
      '`error` with `status` (what POST /v1/notifications would have answered for that item), `code`, ' +
      '`message` and `details` whose paths name the item (`notifications[3].event`). A bad item (schema, ' +
      'unknown event, group or recipient, send cap, daily quota, `critical` without the scope) is refused ' +
      'alone and leaves nothing written; the others go on. Items are checked in order against the daily ' +
      'quotas, so earlier items get them first; the same key twice in one call is one notification (another ' +
      'body under that key is an error). The call counts once against the rate limit.',
    request: {
      body: jsonBody(BulkNotificationRequestSchema, 'The notifications, each with its idempotency key'),
    },
    responses: {
      200: jsonResponse(BulkNotificationResultSchema, 'One result per item, in the order of the items'),
      400: errorResponse(
        `Malformed envelope: not an object, no \`notifications\`, none or more than ${MAX_BULK_NOTIFICATIONS}; or an Idempotency-Key header`,
      ),
      413: errorResponse('Body over BULK_BODY_LIMIT_BYTES (4 MiB by default)'),
    },
  },
);

const notificationDeliveriesRoute = securedRoute(
  { scope: 'read' },
  {
    method: 'get',
    path: '/v1/notifications/{id}/deliveries',
    tags: ['notifications'],
    summary: "A notification's deliveries, page by page (by id, oldest first)",
    description:
      'Every delivery of the notification (each recipient, channel and escalation level) exactly once ' +
      'across the pages, also while it runs: pass `nextCursor` back as `cursor` until it is null. ' +
      '`status` and `channel` narrow the pages.',
    request: {
      params: z.object({ id: uuidParam('id', 'not a notification id') }),
      query: NotificationDeliveriesQuerySchema,
    },
    responses: {
      200: jsonResponse(NotificationDeliveryPageSchema, 'A page of deliveries'),
      400: errorResponse('Malformed id, limit, cursor or filter'),
      404: errorResponse('No such notification'),
    },
  },
);

/** One item of a bulk call, checked as POST /v1/notifications checks its body; refused alone when bad. */
function bulkEntry(item: unknown, mayUseCritical: boolean): BulkEntry {
  const parsed = NotificationBulkItemSchema.safeParse(item);
  if (!parsed.success) {
    const details = parsed.error.issues.map((issue) => ({
      path: formatPath(issue.path as PropertyKey[]),
      message: issue.message,
    }));
    return { rejected: validationFailed(details, 400) };
  }
  const { idempotencyKey, ...submission } = parsed.data;
  if (submission.priority === 'critical' && !mayUseCritical)
    return {
      rejected: forbidden("priority critical needs the scope 'critical', which this key lacks", 'priority'),
    };
  return { submission, idempotencyKey };
}

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
  .openapi(bulkRoute, async (c) => {
    if (c.req.header('idempotency-key') !== undefined) {
      throw validationFailed(
        [{ path: 'Idempotency-Key', message: 'not used here: give each item its own idempotencyKey' }],
        400,
      );
    }
    const mayUseCritical = hasScope(c.var.principal, 'critical');
    const entries = c.req.valid('json').notifications.map((item) => bulkEntry(item, mayUseCritical));
    return c.json({ results: await createNotifications(c.var.deps, c.var.tenantId, entries) }, 200);
  })
  .openapi(notificationDeliveriesRoute, async (c) => {
    const page = await listNotificationDeliveryPage(
      c.var.deps,
      c.var.tenantId,
      c.req.valid('param').id,
      c.req.valid('query'),
    );
    return c.json(page, 200);
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

// The bulk envelope checks its items one by one, so no route schema holds the item schema: it is
// registered here, as the component the envelope's `items` names.
notificationRoutes.openAPIRegistry.register('NotificationBulkItem', NotificationBulkItemSchema);
