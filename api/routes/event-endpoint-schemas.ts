import { z } from '@hono/zod-openapi';
import { SigningSecretInput } from '../schemas';
import { STATUS_EVENT_STATES, STATUS_EVENT_TYPES } from '../../db/queries/status-events';

const uuid = (name: string) =>
  z
    .uuid({ message: `${name} must be a UUID` })
    .openapi({ param: { name, in: 'path' }, example: '2b1f3c7e-8a59-4c3e-9d1b-0f6a2d9e4c11' });

export const EndpointParams = z.object({ id: uuid('id') });
export const EventParams = z.object({ id: uuid('id'), eventId: uuid('eventId') });

const StatusEventTypeSchema = z.enum(STATUS_EVENT_TYPES).openapi('StatusEventType');

export const EventEndpointSchema = z
  .object({
    id: z.string().uuid(),
    url: z.string().openapi({
      description: 'masked: scheme, host and at most the first path word (sealed at rest, never shown again)',
      example: 'https://api.example.com/herald/****',
    }),
    types: z.array(StatusEventTypeSchema).nullable().openapi({ description: 'null: every type' }),
    description: z.string().nullable(),
    secrets: z.array(z.string()).openapi({
      description: 'the signing secrets, masked, newest first',
      example: ['whsec_…Xk4='],
    }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('EventEndpoint');

export const EventEndpointWithSecretSchema = EventEndpointSchema.extend({
  secret: z.string().openapi({
    description: 'the new signing secret in full, shown this once only',
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  }),
}).openapi('EventEndpointWithSecret');

export const EventEndpointInputSchema = z
  .object({
    url: z
      .url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
      .max(2048)
      .openapi({ example: 'https://api.example.com/herald/events' }),
    types: z
      .array(StatusEventTypeSchema)
      .min(1)
      .refine((types) => new Set(types).size === types.length, 'lists a type twice')
      .optional()
      .openapi({ description: 'the event types to receive; omit for every type' }),
    description: z.string().max(500).optional(),
    secret: SigningSecretInput,
  })
  .strict()
  .openapi('EventEndpointInput');

export const StatusEventPayloadSchema = z
  .object({
    type: StatusEventTypeSchema,
    timestamp: z.string().openapi({ description: 'when the change happened (UTC)' }),
    data: z.object({
      notificationId: z.string(),
      idempotencyKey: z.string().optional(),
      event: z.string().openapi({ example: 'ticket.assigned' }),
      deliveryId: z.string().optional().openapi({ description: 'delivery.* events' }),
      channel: z.string().optional(),
      recipient: z
        .string()
        .optional()
        .openapi({ description: "the recipient's externalId, else its key (e.g. `email:ops@example.com`)" }),
      status: z.string().openapi({ description: "the delivery's or notification's status after the change" }),
      reason: z.string().optional().openapi({ description: 'why it failed or was suppressed' }),
      acknowledgedBy: z.string().optional().openapi({ description: 'notification.acknowledged' }),
    }),
  })
  .openapi('StatusEventPayload');

export const StatusEventAttemptSchema = z
  .object({
    at: z.string(),
    durationMs: z.number().int(),
    httpStatus: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'null: no answer (network error, timeout)' }),
    error: z.string().nullable(),
    nextAttemptAt: z
      .string()
      .nullable()
      .openapi({ description: 'when it was to be tried again; null: delivered, or given up' }),
  })
  .openapi('StatusEventAttempt');

export const StatusEventDeliverySchema = z
  .object({
    eventId: z.string().uuid(),
    webhookId: z
      .string()
      .openapi({ description: 'the `webhook-id` header, the same on every attempt and replay' }),
    type: StatusEventTypeSchema,
    notificationId: z.string().uuid(),
    state: z.enum(STATUS_EVENT_STATES),
    createdAt: z.string(),
    deliveredAt: z.string().nullable(),
    nextAttemptAt: z.string().nullable().openapi({ description: 'pending only: the next attempt' }),
    payload: StatusEventPayloadSchema,
    attempts: z.array(StatusEventAttemptSchema).openapi({ description: 'oldest first' }),
  })
  .openapi('StatusEventDelivery');

export const DeliveriesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
  state: z.enum(STATUS_EVENT_STATES).optional(),
  type: StatusEventTypeSchema.optional(),
});
