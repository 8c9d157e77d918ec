import { z } from '@hono/zod-openapi';
import { CHANNEL_DECISIONS, OUTCOMES } from '../services/explain-channels';

const nullableTime = z.string().nullable();

export const ExplainQuerySchema = z.object({
  recipient: z
    .string({ message: 'name the recipient: an externalId, an email address or an E.164 number' })
    .min(1, 'name the recipient: an externalId, an email address or an E.164 number')
    .max(320)
    .openapi({
      description: 'The person: their externalId, or an address (email or E.164 number)',
      example: 'tech-42',
    }),
});

const OutcomeSchema = z.enum(OUTCOMES).openapi({
  description:
    'reached: a message went out (sent or delivered); pending: still to go (quiet hours, retries); digested: ' +
    'in their digest; failed; suppressed: a policy said no; skipped; merged: only a shared address stood for ' +
    'them; not_resolved: no delivery of theirs at all',
});

const ResolutionSchema = z
  .object({
    level: z.number().int().openapi({ description: '0: the notification itself; n: escalation level n' }),
    status: z.enum(['resolved', 'not_resolved']),
    via: z.array(
      z.object({
        kind: z.enum(['recipient', 'group', 'address']),
        group: z.object({ key: z.string(), name: z.string(), memberSince: z.string() }).nullable(),
        address: z.string().nullable(),
      }),
    ),
    reasons: z.array(
      z.object({
        code: z.enum([
          'recipient_unknown',
          'not_in_audience',
          'not_member_of_targeted_groups',
          'joined_after_send',
          'membership_ended',
          'address_of_person',
          'address_merged',
        ]),
        message: z.string(),
        group: z.object({ key: z.string(), name: z.string(), joinedAt: z.string() }).nullable(),
        with: z.string().nullable().openapi({ description: 'The other person or raw address involved' }),
      }),
    ),
  })
  .openapi('ExplainResolution');

const ChannelStorySchema = z
  .object({
    channel: z.string(),
    level: z.number().int(),
    decision: z.enum(CHANNEL_DECISIONS),
    status: z
      .string()
      .nullable()
      .openapi({ description: 'The delivery-log status; null for a merged channel' }),
    address: z.string().nullable(),
    reason: z.string().nullable().openapi({ description: 'The rule that decided, or the provider’s answer' }),
    heldUntil: nullableTime.openapi({ description: 'Quiet hours held it until then' }),
    failoverFrom: z.string().nullable(),
    duplicateOf: z.string().nullable(),
    mergedWith: z.string().nullable(),
    digest: z.object({ sentAt: nullableTime }).nullable(),
    attempts: z.object({
      count: z.number().int(),
      lastError: z.string().nullable().openapi({ description: 'The latest answer' }),
      history: z
        .array(
          z.object({
            attempt: z.number().int(),
            outcome: z.enum(['retrying', 'failed', 'sent']),
            at: nullableTime,
            answer: z.string().nullable().openapi({ description: 'The provider’s answer' }),
          }),
        )
        .openapi({ description: 'Each attempt, oldest first, with the provider’s answer' }),
      providerMessageId: z.string().nullable(),
      providerStatus: z.string().nullable().openapi({ description: 'From provider callbacks (e.g. Twilio)' }),
      sentAt: nullableTime,
      updatedAt: nullableTime,
    }),
  })
  .openapi('ExplainChannel');

export const ExplanationSchema = z
  .object({
    notification: z.object({
      id: z.string(),
      event: z.string(),
      priority: z.string(),
      status: z.string(),
      createdAt: z.string(),
      completedAt: nullableTime,
    }),
    recipient: z.object({
      query: z.string(),
      kind: z.enum(['person', 'address', 'unknown']),
      externalId: z.string().nullable(),
      name: z.string().nullable(),
      address: z.string().nullable(),
      matchedBy: z.enum(['externalId', 'address']).nullable(),
    }),
    outcome: OutcomeSchema,
    resolution: z.array(ResolutionSchema),
    channels: z.array(ChannelStorySchema),
    escalation: z
      .object({
        repeat: z.number().int(),
        levels: z.array(
          z.object({
            afterSeconds: z.number(),
            channels: z.array(z.string()).nullable(),
            ownAudience: z.boolean(),
          }),
        ),
        fired: z.array(z.number().int()),
        reachedAt: z.array(z.number().int()),
      })
      .nullable(),
    acknowledgement: z.object({
      state: z.enum(['acknowledged', 'not_acknowledged', 'unknown']),
      by: z.string().nullable(),
      at: nullableTime,
    }),
    story: z.array(z.string()).openapi({ description: 'The same story in sentences' }),
  })
  .openapi('Explanation');

export const RecipientNotificationsQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().optional().openapi({ description: 'nextCursor of the page before' }),
});

export const RecipientNotificationPageSchema = z
  .object({
    items: z.array(
      z
        .object({
          id: z.string(),
          event: z.string(),
          priority: z.string(),
          status: z.string(),
          createdAt: z.string(),
          outcome: OutcomeSchema,
          reason: z
            .string()
            .nullable()
            .openapi({ description: 'Why a notification that targeted them has no delivery of theirs' }),
          deliveries: z.array(
            z.object({
              channel: z.string(),
              level: z.number().int(),
              status: z.string(),
              reason: z.string().nullable(),
            }),
          ),
          links: z.object({ explain: z.string() }),
        })
        .openapi('RecipientNotification'),
    ),
    nextCursor: z.string().nullable(),
  })
  .openapi('RecipientNotificationPage');
