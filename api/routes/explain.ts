import { OpenAPIHono, z } from '@hono/zod-openapi';
import { securedRoute } from '../auth/access';
import type { AppEnv } from '../deps';
import { errorResponse, identifier, jsonResponse, uuidParam } from '../schemas';
import { explainNotification, listRecipientNotifications } from '../services/explain';
import { temporalAcknowledgement } from '../services/explain-ack';
import {
  ExplainQuerySchema,
  ExplanationSchema,
  RecipientNotificationPageSchema,
  RecipientNotificationsQuerySchema,
} from './explain-schemas';

const explainRoute = securedRoute(
  { scope: 'read' },
  {
    method: 'get',
    path: '/v1/notifications/{id}/explain',
    tags: ['notifications'],
    summary: "Why was (or wasn't) this person told? Their whole story for one notification",
    description:
      'How the person was resolved (named directly, through which group and since when, a raw address) or ' +
      'why not (not in any targeted group, joined the group after the send, an address shared with someone ' +
      'else, unknown); each channel’s decision (preference rule, quiet hours held until, digest, failover ' +
      'standby, dedupe, throttle, unsubscribe, suppression list) with its attempts and the provider’s last ' +
      'answer; escalation levels and the acknowledgement. An unknown recipient is a story too (200, ' +
      '`recipient_unknown`).',
    request: {
      params: z.object({ id: uuidParam('id', 'not a notification id') }),
      query: ExplainQuerySchema,
    },
    responses: {
      200: jsonResponse(ExplanationSchema, 'The story'),
      400: errorResponse('Malformed id, or no `recipient`'),
      404: errorResponse('No such notification'),
    },
  },
);

const recipientNotificationsRoute = securedRoute(
  { scope: 'read' },
  {
    method: 'get',
    path: '/v1/recipients/{externalId}/notifications',
    tags: ['recipients'],
    summary: 'The notifications that reached or targeted a person, newest first, with their outcome',
    description:
      'Each notification with a delivery of theirs, or whose request names them, one of their groups or one of ' +
      'their addresses (also at an escalation level), with the person’s outcome and deliveries; ' +
      '`links.explain` gives the whole story. Pass `nextCursor` back as `cursor` until it is null.',
    request: {
      params: z.object({ externalId: identifier('externalId', 'tech-42') }),
      query: RecipientNotificationsQuerySchema,
    },
    responses: {
      200: jsonResponse(RecipientNotificationPageSchema, 'A page of notifications'),
      400: errorResponse('Malformed limit or cursor'),
      404: errorResponse('No such recipient'),
    },
  },
);

export const explainRoutes = new OpenAPIHono<AppEnv>()
  .openapi(explainRoute, async (c) => {
    const { deps } = c.var;
    const story = await explainNotification(
      deps.db,
      c.var.tenantId,
      c.req.valid('param').id,
      c.req.valid('query').recipient,
      temporalAcknowledgement(deps.temporal),
    );
    return c.json(story, 200);
  })
  .openapi(recipientNotificationsRoute, async (c) => {
    const page = await listRecipientNotifications(
      c.var.deps.db,
      c.var.tenantId,
      c.req.valid('param').externalId,
      c.req.valid('query'),
    );
    return c.json(page, 200);
  });
