import { z } from '@hono/zod-openapi';
import { webhookSecretProblem } from '../activities/channels/webhook/signing';
import { dedupeRuleSchema, throttleRuleSchema } from '../common/dedupe-rules';
import { isLocaleTag } from '../common/locale';
import { CHANNELS, DELIVERY_STATUSES, PRIORITIES } from '../common/types';

/** Header values and ids must never carry CR/LF (header injection). */
const noCrlf = (s: string) => !/[\r\n]/.test(s);

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'validation_failed' }),
      message: z.string(),
      details: z.array(z.object({ path: z.string(), message: z.string() })),
    }),
  })
  .openapi('Error');

export const errorResponse = (description: string) => ({
  content: { 'application/json': { schema: ErrorSchema } },
  description,
});

export const jsonBody = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { 'application/json': { schema } },
  description,
  required: true as const,
});

export const jsonResponse = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { 'application/json': { schema } },
  description,
});

export const identifier = (name: string, example: string) =>
  z
    .string()
    .min(1)
    .max(255)
    .refine(noCrlf, 'must not contain line breaks')
    .openapi({ param: { name, in: 'path' }, example });

/** A group's key in a path; the pattern is in the document, so generated keys are ones we take. */
export const groupKeyParam = () =>
  identifier('key', 'system-admins').regex(/^[A-Za-z0-9._-]+$/, 'use letters, digits, . _ -');

/** A path parameter that is a UUID (notification and inbox message ids): so documented, so generated. */
export const uuidParam = (name: string, message: string) =>
  z.uuid({ message }).openapi({
    param: { name, in: 'path' },
    example: '0b8a5d2e-6f1c-4a3b-9c7d-2e4f6a8b0c1d',
  });

// The pattern is the one zod checks: `format: email` alone admits addresses it refuses (`a!b@c.de`).
const email = z
  .email({ message: 'not a valid email address' })
  .max(320)
  .openapi({ pattern: z.regexes.email.source });
/** E.164: a plus, a country code and at most 15 digits in all. */
const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number such as +263771234567');

const TO_LISTS = ['recipients', 'groups', 'emails', 'phones'] as const;

/** Who a notification reaches; one of the lists must have an entry. */
export const AudienceSchema = z
  .object({
    recipients: z
      .array(z.string().min(1).max(255))
      .max(10_000)
      .optional()
      .openapi({ example: ['tech-42'] }),
    groups: z
      .array(z.string().min(1).max(255))
      .max(100)
      .optional()
      .openapi({ example: ['Technical Admin'] }),
    emails: z
      .array(email)
      .max(1_000)
      .optional()
      .openapi({ example: ['ops@example.com'] }),
    phones: z
      .array(e164)
      .max(1_000)
      .optional()
      .openapi({ example: ['+263771234567'] }),
  })
  .strict()
  .refine((to) => Object.values(to).some((list) => list && list.length > 0), {
    message: 'name at least one recipient, group, email or phone',
  })
  // What the refinement checks, said in the document: one of the lists has an entry.
  .openapi({
    anyOf: TO_LISTS.map((list) => ({ required: [list], properties: { [list]: { minItems: 1 } } })),
  });

export const NotificationRequestSchema = z
  .object({
    event: z.string().min(1).max(200).openapi({ example: 'ticket.assigned' }),
    // Optional: left out, the event's default audience (its routing) is the audience.
    to: AudienceSchema.optional().openapi({
      description:
        "Who gets it. Leave it out to send to the event's default audience (`PUT /v1/events/{event}/routing`); " +
        'without `to`, an event with no default audience is a 422 naming `to`.',
    }),
    includeDefaults: z.boolean().optional().openapi({
      description:
        "With `to`: the event's default audience gets it too (each person once); no default audience: just `to`.",
    }),
    data: z
      .record(z.string(), z.unknown())
      .default({})
      .openapi({ example: { ticketId: '123', title: 'Printer not working' } }),
    priority: z.enum(PRIORITIES).default('normal'),
    channels: z.array(z.enum(CHANNELS)).min(1).optional(),
    escalation: z
      .object({
        levels: z
          .array(
            z
              .object({
                afterSeconds: z
                  .number()
                  .int()
                  .min(1)
                  .max(30 * 24 * 3600),
                channels: z.array(z.enum(CHANNELS)).min(1).optional(),
                recipients: z.array(z.string().min(1).max(255)).max(1_000).optional(),
                groups: z.array(z.string().min(1).max(255)).max(100).optional(),
              })
              .strict(),
          )
          .min(1)
          .max(10),
        repeat: z.number().int().min(0).max(10).optional(),
      })
      .strict()
      .optional()
      .openapi({
        example: {
          levels: [
            { afterSeconds: 900, channels: ['sms'] },
            { afterSeconds: 1800, groups: ['System Admins'] },
          ],
        },
      }),
    idempotencyKey: z.string().min(1).max(255).refine(noCrlf, 'must not contain line breaks').optional(),
    // Replace the event manifest's rules; the key is Liquid over `data`, checked by rendering it (422).
    dedupe: dedupeRuleSchema.optional().openapi({ example: { key: '{{ ticketId }}', window: '10m' } }),
    throttle: throttleRuleSchema.optional().openapi({ example: { max: 5, per: '1h' } }),
    locale: z
      .string()
      .max(35)
      .refine(isLocaleTag, 'must be a BCP 47 language tag such as fr or pt-BR')
      .optional()
      .openapi({
        example: 'fr',
        description:
          "the language for raw addresses and recipients without a locale of their own; absent: the tenant's default",
      }),
  })
  .strict()
  .openapi('NotificationRequest');

export const NotificationCreatedSchema = z
  .object({
    id: z.string().uuid(),
    workflowId: z.string(),
    status: z.literal('running'),
    links: z.object({ self: z.string(), deliveries: z.string(), temporalUi: z.string() }),
  })
  .openapi('NotificationCreated');

export const DeliverySchema = z
  .object({
    id: z.string(),
    notificationId: z.string(),
    event: z.string(),
    recipientKey: z.string(),
    externalId: z.string().nullable(),
    recipientName: z.string().nullable(),
    channel: z.string(),
    level: z.number().int().openapi({ description: '0: the notification; 1…: its escalation levels' }),
    notBefore: z.string().nullable().openapi({ description: 'held back until then by quiet hours' }),
    failoverFrom: z
      .string()
      .nullable()
      .openapi({ description: 'the channel whose permanent failure made this one go out' }),
    address: z.string(),
    status: z.enum(DELIVERY_STATUSES),
    attempts: z.number().int(),
    providerMessageId: z.string().nullable(),
    providerStatus: z.string().nullable(),
    error: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    sentAt: z.string().nullable(),
  })
  .openapi('Delivery');

const CountsSchema = z.record(z.string(), z.number().optional());

const AcknowledgementSchema = z.object({ by: z.string(), at: z.string() }).openapi('Acknowledgement');

export const AckRequestSchema = z
  .object({ by: z.string().min(1).max(255).openapi({ example: 'tech-42' }) })
  .strict()
  .openapi('AckRequest');

export const AckResultSchema = z
  .object({
    accepted: z.boolean(),
    reason: z.string().nullable(),
    acknowledged: AcknowledgementSchema.nullable(),
    stoppedLevels: z.number().int(),
  })
  .openapi('AckResult');

export const CancelResultSchema = z
  .object({
    cancelled: z.boolean(),
    reason: z.string().nullable(),
    pending: z.object({
      batches: z.number().int(),
      escalationLevels: z.number().int(),
      nextEscalationAt: z.string().nullable(),
      quietHoursDeliveries: z.number().int(),
    }),
    sentBeforeCancel: z.number().int().openapi({
      description: 'Deliveries sent before the cancel took effect (running batches had stopped).',
    }),
  })
  .openapi('CancelResult');

export const NotificationViewSchema = z
  .object({
    id: z.string(),
    workflowId: z.string(),
    event: z.string(),
    priority: z.string(),
    status: z.string().openapi({ example: 'completed' }),
    createdAt: z.string(),
    completedAt: z.string().nullable(),
    source: z.enum(['workflow', 'database']),
    progress: z
      .object({
        notificationId: z.string(),
        phase: z.string(),
        recipients: z.number(),
        deliveries: z.number(),
        batchesTotal: z.number(),
        batchesDone: z.number(),
        counts: CountsSchema,
        quietHours: z.object({ deliveries: z.number(), nextAt: z.string().nullable() }).nullable(),
        escalation: z
          .object({ level: z.number(), levels: z.number(), nextAt: z.string().nullable() })
          .nullable(),
        acknowledged: AcknowledgementSchema.nullable(),
      })
      .nullable(),
    counts: CountsSchema.openapi({
      description:
        'Deliveries by status, read from the delivery log on each request (they move while it runs)',
    }),
    deliveryPage: z
      .object({
        total: z.number().int().openapi({ description: 'all deliveries of the notification, every level' }),
        shown: z.number().int().openapi({ description: 'how many of them `recipients` shows' }),
        nextCursor: z.string().nullable().openapi({
          description:
            'continues after them: `GET /v1/notifications/{id}/deliveries?cursor=…`; null: `recipients` shows all',
        }),
      })
      .openapi({
        description:
          'What `recipients` shows of the deliveries; `links.deliveries` pages through all of them',
      }),
    recipients: z
      .array(
        z.object({
          recipientKey: z.string(),
          externalId: z.string().nullable(),
          name: z.string().nullable(),
          deliveries: z.array(
            DeliverySchema.pick({
              channel: true,
              level: true,
              notBefore: true,
              failoverFrom: true,
              address: true,
              providerStatus: true,
              status: true,
              attempts: true,
              error: true,
              providerMessageId: true,
              sentAt: true,
              updatedAt: true,
            }),
          ),
        }),
      )
      .openapi({
        description:
          'The first page of deliveries (at most 100, by id), by recipient; the rest through `links.deliveries`',
      }),
    links: z.object({
      self: z.string(),
      deliveries: z
        .string()
        .openapi({ example: '/v1/notifications/0b8a5d2e-6f1c-4a3b-9c7d-2e4f6a8b0c1d/deliveries' }),
      temporalUi: z.string(),
    }),
  })
  .openapi('Notification');

export const NotificationSummarySchema = z
  .object({
    id: z.string(),
    tenantId: z.string(),
    event: z.string(),
    priority: z.string(),
    status: z.string(),
    workflowId: z.string(),
    recipientCount: z.number().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    completedAt: z.string().nullable(),
  })
  .openapi('NotificationSummary');

export const pageOf = <T extends z.ZodType>(item: T, name: string) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() }).openapi(name);

const isoDate = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 date-time')
  // JavaScript dates reach years PostgreSQL refuses (±275760): keep to four-digit years.
  .refine((s) => {
    const year = new Date(s).getUTCFullYear();
    return year >= 1 && year <= 9999;
  }, 'must lie between the years 1 and 9999')
  .transform((s) => new Date(s));

export const ListQuerySchema = z.object({
  event: z.string().optional(),
  status: z.string().optional(),
  recipient: z.string().optional().openapi({ description: 'externalId, or an email address' }),
  since: isoDate.optional().openapi({ type: 'string', format: 'date-time' }),
  until: isoDate.optional().openapi({ type: 'string', format: 'date-time' }),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().optional(),
});

export const DeliveryQuerySchema = ListQuerySchema.extend({
  status: z.enum(DELIVERY_STATUSES).optional(),
  notification: z.string().uuid().optional(),
  channel: z.enum(CHANNELS).optional(),
});

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/, 'must be HH:MM (24h), optionally :SS');

const isTimeZone = (tz: string) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

/** The tenant's default quiet hours: for recipients with none of their own, in `timezone` unless they have one. */
export const TenantQuietHoursSchema = z
  .object({
    quietHours: z
      .object({ start: hhmm, end: hhmm })
      .strict()
      .nullable()
      .openapi({ example: { start: '22:00', end: '07:00' } }),
    timezone: z
      .string()
      .refine(isTimeZone, 'not an IANA time zone')
      .nullable()
      .openapi({ example: 'Africa/Harare' }),
  })
  .strict()
  .openapi('TenantQuietHours');

export const RecipientInputSchema = z
  .object({
    name: z.string().max(200).nullable().optional(),
    email: email.nullable().optional(),
    phone: e164.nullable().optional(),
    whatsapp: e164.nullable().optional(),
    timezone: z
      .string()
      .refine(isTimeZone, 'not an IANA time zone')
      .nullable()
      .optional()
      .openapi({ example: 'Africa/Harare' }),
    locale: z
      .string()
      .max(35)
      .refine(isLocaleTag, 'must be a BCP 47 language tag such as fr or pt-BR')
      .nullable()
      .optional()
      .openapi({ example: 'fr-CA' }),
    quietHours: z.object({ start: hhmm, end: hhmm }).strict().nullable().optional(),
    digest: z
      .object({
        events: z
          .array(z.string().min(1).max(200))
          .max(100)
          .openapi({ description: 'event keys or category:<name>' }),
        frequency: z.enum(['hourly', 'daily', 'weekly']).default('daily'),
        hour: z.number().int().min(0).max(23).optional(),
        weekday: z.number().int().min(0).max(6).optional(),
      })
      .strict()
      .nullable()
      .optional()
      .openapi({ description: 'events taken as a digest instead of one message each' }),
    failover: z
      .array(z.enum(CHANNELS))
      .min(2)
      .max(CHANNELS.length)
      .refine((list) => new Set(list).size === list.length, 'each channel at most once')
      .nullable()
      .optional()
      .openapi({
        example: ['push', 'sms', 'email'],
        description: 'try these in order; each permanent failure moves on',
      }),
  })
  .strict()
  .openapi('RecipientInput');

export const RecipientSchema = z
  .object({
    externalId: z.string(),
    name: z.string().nullable(),
    email: z.string().nullable(),
    phone: z.string().nullable(),
    whatsapp: z.string().nullable(),
    timezone: z.string().nullable(),
    locale: z.string().nullable(),
    quietHours: z.object({ start: z.string(), end: z.string() }).nullable(),
    digest: z.unknown(),
    failover: z.array(z.string()).nullable(),
    groups: z.array(z.string()),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Recipient');

export const GroupInputSchema = z
  .object({
    name: z.string().min(1).max(200).openapi({ example: 'System Admins' }),
    description: z.string().max(2000).nullable().optional(),
  })
  .strict()
  .openapi('GroupInput');

export const GroupSchema = z
  .object({
    key: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    memberCount: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Group');

export const GroupMemberSchema = z.object({
  externalId: z.string(),
  name: z.string().nullable(),
  email: z.string().nullable(),
});

export const TemplateSchema = z
  .object({
    event: z.string(),
    category: z.string(),
    description: z.string(),
    defaultChannels: z.array(z.string()),
    defaultPriority: z.string(),
    variables: z.record(
      z.string(),
      z.object({ type: z.string(), required: z.boolean(), description: z.string().optional() }),
    ),
    sample: z.record(z.string(), z.unknown()),
  })
  .openapi('Template');

export const PreviewRequestSchema = z
  .object({
    data: z
      .record(z.string(), z.unknown())
      .optional()
      .openapi({ description: "defaults to the template's sample data" }),
    locale: z
      .string()
      .max(35)
      .refine(isLocaleTag, 'must be a BCP 47 language tag such as fr or pt-BR')
      .optional(),
    recipient: z.object({ name: z.string().optional(), email: z.string().optional() }).optional(),
  })
  .strict()
  .openapi('PreviewRequest');

export const PreviewSchema = z
  .object({ event: z.string(), email: z.object({ subject: z.string(), html: z.string(), text: z.string() }) })
  .openapi('Preview');

/** A Standard Webhooks signing secret a tenant brings (webhook and event endpoints). */
export const SigningSecretInput = z
  .string()
  .max(200)
  .superRefine((secret, ctx) => {
    const problem = webhookSecretProblem(secret);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .optional()
  .openapi({ description: 'a whsec_ secret of 24 to 64 bytes; generated (32 bytes) when omitted' });
