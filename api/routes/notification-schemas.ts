import { z } from '@hono/zod-openapi';
import { CHANNELS, DELIVERY_STATUSES } from '../../common/types';
import { DeliverySchema, NotificationRequestSchema, pageOf } from '../schemas';

/** Most notifications one bulk call takes. */
export const MAX_BULK_NOTIFICATIONS = 1_000;

/** Deliveries one page of `GET /v1/notifications/{id}/deliveries` holds at most, and by default. */
export const MAX_DELIVERY_PAGE = 1_000;
export const DEFAULT_DELIVERY_PAGE = 100;

/**
 * One item of the bulk trigger: the body of `POST /v1/notifications`, with its idempotency key
 * required (the body field, since an item has no headers of its own). Same key and same body as a
 * single request: the same notification.
 */
export const NotificationBulkItemSchema = z
  .object({
    ...NotificationRequestSchema.shape,
    idempotencyKey: NotificationRequestSchema.shape.idempotencyKey.unwrap().openapi({
      example: 'order-1042-shipped',
      description: 'Required; same key + same body = same notification, as the Idempotency-Key header',
    }),
  })
  .strict()
  .openapi('NotificationBulkItem');

/**
 * The envelope only: each item is checked on its own (NotificationBulkItemSchema), so a bad one is
 * reported by its index instead of refusing the call. The document says what an item must be.
 */
export const BulkNotificationRequestSchema = z
  .object({
    notifications: z
      .array(z.unknown())
      .min(1)
      .max(MAX_BULK_NOTIFICATIONS)
      .openapi({
        items: { $ref: '#/components/schemas/NotificationBulkItem' },
        description: `1 to ${MAX_BULK_NOTIFICATIONS} notifications, each as the body of POST /v1/notifications plus its idempotencyKey`,
      }),
  })
  .strict()
  .openapi('BulkNotificationRequest');

const BulkItemErrorSchema = z
  .object({
    status: z.number().int().openapi({
      example: 422,
      description: 'What POST /v1/notifications would have answered for this item alone',
    }),
    code: z.string().openapi({ example: 'validation_failed' }),
    message: z.string(),
    details: z.array(
      z.object({
        path: z.string().openapi({ example: 'notifications[3].event' }),
        message: z.string(),
      }),
    ),
    retryAfter: z
      .number()
      .int()
      .optional()
      .openapi({ description: 'Seconds to wait before retrying this item (a daily quota)' }),
  })
  .openapi('BulkItemError');

export const BulkNotificationResultSchema = z
  .object({
    results: z.array(
      z
        .object({
          index: z.number().int().openapi({ description: 'The item’s position in `notifications`' }),
          status: z.enum(['created', 'existing', 'error']).openapi({
            description:
              'created: recorded and started now; existing: its key was used before with the same body ' +
              '(nothing new started); error: nothing was recorded for it',
          }),
          id: z.uuid().optional().openapi({ description: 'The notification (created or existing)' }),
          error: BulkItemErrorSchema.optional(),
        })
        .openapi('BulkItemResult'),
    ),
  })
  .openapi('BulkNotificationResult');

export const NotificationDeliveriesQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_DELIVERY_PAGE).default(DEFAULT_DELIVERY_PAGE),
  cursor: z.string().optional().openapi({ description: 'nextCursor of the page before' }),
  status: z.enum(DELIVERY_STATUSES).optional(),
  channel: z.enum(CHANNELS).optional(),
});

export const NotificationDeliveryPageSchema = pageOf(DeliverySchema, 'NotificationDeliveryPage');
