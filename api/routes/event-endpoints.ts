import { randomUUID } from 'node:crypto';
import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import {
  maskWebhookUrl,
  openEndpointUrl,
  sealEndpointUrl,
} from '../../activities/channels/webhook/endpoint-url';
import { generateWebhookSecret, maskWebhookSecret } from '../../activities/channels/webhook/signing';
import { openSecret, sealSecret, SecretBoxError } from '../../common/secret-box';
import { checkPublicUrl, resolverFromSettings, type UrlPolicy } from '../../common/url-safety';
import {
  addEventEndpointSecret,
  createEventEndpoint,
  deleteEventEndpoint,
  getEventEndpoint,
  listEventEndpoints,
  removeOldEventEndpointSecrets,
  type EventEndpoint,
} from '../../db/queries/event-endpoints';
import {
  getStatusEventDelivery,
  listStatusEventDeliveries,
  replayStatusEvent,
} from '../../db/queries/status-events';
import type { ApiConfig } from '../config';
import { securedRoute } from '../auth/access';
import type { AppEnv } from '../deps';
import { HttpError, notFound, validationFailed } from '../errors';
import { sealingKey } from '../sealing-key';
import { errorResponse, jsonBody, jsonResponse } from '../schemas';
import { decodeCursor, encodeCursor } from '../services/notifications';
import {
  DeliveriesQuery,
  EndpointParams,
  EventEndpointInputSchema,
  EventEndpointSchema,
  EventEndpointWithSecretSchema,
  EventParams,
  StatusEventDeliverySchema,
} from './event-endpoint-schemas';

/** Signing secrets an endpoint may hold at once (the newest signs; the others during a rotation). */
const MAX_SECRETS = 5;

const tags = ['status events'];
const notConfigured = errorResponse('HERALD_SECRET_KEY is not set: event endpoints cannot be managed');
const noEndpoint = errorResponse('No such endpoint (in this tenant)');

const createRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'post',
    path: '/v1/event-endpoints',
    tags,
    summary: 'Register an events endpoint: status events of this tenant are POSTed to it, signed',
    description:
      'Events: `notification.completed|failed|cancelled|acknowledged`, `delivery.sent|failed|suppressed` and, ' +
      'from provider callbacks, `delivery.delivered|read`. Each is signed per Standard Webhooks, carries one ' +
      '`webhook-id` on every attempt and replay, and is retried with backoff until a 2xx (at least once; ' +
      'order is not guaranteed). Only changes after registration are sent. The secret is shown once here.',
    request: { body: jsonBody(EventEndpointInputSchema, 'The endpoint') },
    responses: {
      201: jsonResponse(EventEndpointWithSecretSchema, 'Registered; `secret` is shown this once'),
      400: errorResponse('Invalid body, e.g. an unknown event type or a secret shorter than 24 bytes'),
      422: errorResponse(
        'URL refused (not https, or a private address), or the tenant holds MAX_EVENT_ENDPOINTS_PER_TENANT endpoints',
      ),
      503: notConfigured,
    },
  },
);

const listRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'get',
    path: '/v1/event-endpoints',
    tags,
    summary: 'List events endpoints (secrets masked)',
    responses: {
      200: jsonResponse(z.object({ items: z.array(EventEndpointSchema) }), 'The endpoints, oldest first'),
      503: notConfigured,
    },
  },
);

const getRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'get',
    path: '/v1/event-endpoints/{id}',
    tags,
    summary: 'Get an events endpoint (secrets masked)',
    request: { params: EndpointParams },
    responses: {
      200: jsonResponse(EventEndpointSchema, 'The endpoint'),
      404: noEndpoint,
      503: notConfigured,
    },
  },
);

const deleteRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'delete',
    path: '/v1/event-endpoints/{id}',
    tags,
    summary: 'Delete an events endpoint, its pending events and its history',
    request: { params: EndpointParams },
    responses: { 204: { description: 'Deleted' }, 404: noEndpoint },
  },
);

const rotateRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'post',
    path: '/v1/event-endpoints/{id}/rotate-secret',
    tags,
    summary: 'Start a secret rotation: a new secret signs, the old ones still sign until removed',
    request: { params: EndpointParams },
    responses: {
      200: jsonResponse(EventEndpointWithSecretSchema, 'The new secret, shown this once'),
      404: noEndpoint,
      409: errorResponse('Too many secrets: remove the old ones first'),
      503: notConfigured,
    },
  },
);

const removeOldRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'delete',
    path: '/v1/event-endpoints/{id}/secrets/old',
    tags,
    summary: 'End a secret rotation: keep only the newest secret',
    request: { params: EndpointParams },
    responses: {
      200: jsonResponse(EventEndpointSchema, 'The endpoint'),
      404: noEndpoint,
      503: notConfigured,
    },
  },
);

const historyRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'get',
    path: '/v1/event-endpoints/{id}/deliveries',
    tags,
    summary: "An endpoint's events, newest first, each with its attempts",
    request: { params: EndpointParams, query: DeliveriesQuery },
    responses: {
      200: jsonResponse(
        z.object({ items: z.array(StatusEventDeliverySchema), nextCursor: z.string().nullable() }),
        'A page of events; `nextCursor` null on the last page',
      ),
      400: errorResponse('Bad query, e.g. a cursor this API did not return'),
      404: noEndpoint,
    },
  },
);

const replayRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'post',
    path: '/v1/event-endpoints/{id}/deliveries/{eventId}/replay',
    tags,
    summary: 'Send an event again now, same body and `webhook-id`, with a fresh round of retries',
    request: { params: EventParams },
    responses: {
      202: jsonResponse(StatusEventDeliverySchema, 'Queued; the dispatcher sends it within moments'),
      404: errorResponse('No such endpoint, or no such event for it'),
    },
  },
);

type Ctx = Context<AppEnv>;

const secretKey = (c: Ctx): Buffer => sealingKey(c, 'event endpoint secrets', 'events_not_configured');

function present(endpoint: EventEndpoint, key: Buffer) {
  try {
    return {
      id: endpoint.id,
      url: maskWebhookUrl(openEndpointUrl(endpoint.storedUrl, key)),
      types: endpoint.types,
      description: endpoint.description,
      secrets: endpoint.sealedSecrets.map((sealed) => maskWebhookSecret(openSecret(sealed, key))),
      createdAt: endpoint.createdAt,
      updatedAt: endpoint.updatedAt,
    };
  } catch (error) {
    if (!(error instanceof SecretBoxError)) throw error;
    throw new HttpError(500, 'secret_unreadable', error.message);
  }
}

const resolvers = new WeakMap<ApiConfig, UrlPolicy['resolver']>();

/** The URL rules of this API, as for webhook endpoints (loopback only in development). */
function urlPolicy(config: ApiConfig): UrlPolicy {
  if (!resolvers.has(config))
    resolvers.set(config, resolverFromSettings({ HERALD_DNS_SERVERS: config.HERALD_DNS_SERVERS }));
  return { allowLoopback: config.HERALD_ALLOW_LOOPBACK_URLS === 'true', resolver: resolvers.get(config) };
}

const found = (endpoint: EventEndpoint | null, id: string): EventEndpoint => {
  if (!endpoint) throw notFound(`event endpoint ${id}`);
  return endpoint;
};

const isSeqCursor = (v: unknown): v is { before: string } => {
  const before = (v as { before?: unknown } | null)?.before;
  return typeof before === 'string' && /^[1-9]\d{0,17}$/.test(before);
};

export const eventEndpointRoutes = new OpenAPIHono<AppEnv>()
  .openapi(createRoute, async (c) => {
    const key = secretKey(c);
    const { db, config } = c.var.deps;
    const input = c.req.valid('json');
    const check = await checkPublicUrl(input.url, urlPolicy(config));
    if (!check.ok) throw validationFailed([{ path: 'url', message: check.reason }]);
    const secret = input.secret ?? generateWebhookSecret();
    const limit = config.MAX_EVENT_ENDPOINTS_PER_TENANT;
    const created = await createEventEndpoint(
      db,
      {
        id: randomUUID(),
        tenantId: c.var.tenantId,
        storedUrl: sealEndpointUrl(check.url.href, key),
        sealedSecrets: [sealSecret(secret, key)],
        types: input.types ?? null,
        description: input.description ?? null,
      },
      limit,
    );
    if ('limitReached' in created)
      throw new HttpError(
        422,
        'limit_reached',
        `a tenant holds at most ${limit} event endpoints (MAX_EVENT_ENDPOINTS_PER_TENANT): delete one first`,
        [{ path: 'url', message: `the tenant has ${limit} event endpoints already` }],
      );
    return c.json({ ...present(created, key), secret }, 201);
  })
  .openapi(listRoute, async (c) => {
    const key = secretKey(c);
    const items = await listEventEndpoints(c.var.deps.db, c.var.tenantId);
    return c.json({ items: items.map((e) => present(e, key)) }, 200);
  })
  .openapi(getRoute, async (c) => {
    const key = secretKey(c);
    const { id } = c.req.valid('param');
    return c.json(present(found(await getEventEndpoint(c.var.deps.db, c.var.tenantId, id), id), key), 200);
  })
  .openapi(deleteRoute, async (c) => {
    const { id } = c.req.valid('param');
    if (!(await deleteEventEndpoint(c.var.deps.db, c.var.tenantId, id)))
      throw notFound(`event endpoint ${id}`);
    return c.body(null, 204);
  })
  .openapi(rotateRoute, async (c) => {
    const key = secretKey(c);
    const { db } = c.var.deps;
    const { id } = c.req.valid('param');
    const endpoint = found(await getEventEndpoint(db, c.var.tenantId, id), id);
    if (endpoint.sealedSecrets.length >= MAX_SECRETS)
      throw new HttpError(
        409,
        'too_many_secrets',
        `an endpoint holds at most ${MAX_SECRETS} secrets: remove the old ones first (DELETE /v1/event-endpoints/${id}/secrets/old)`,
      );
    const secret = generateWebhookSecret();
    const rotated = found(await addEventEndpointSecret(db, c.var.tenantId, id, sealSecret(secret, key)), id);
    return c.json({ ...present(rotated, key), secret }, 200);
  })
  .openapi(removeOldRoute, async (c) => {
    const key = secretKey(c);
    const { id } = c.req.valid('param');
    const endpoint = found(await removeOldEventEndpointSecrets(c.var.deps.db, c.var.tenantId, id), id);
    return c.json(present(endpoint, key), 200);
  })
  .openapi(historyRoute, async (c) => {
    const { db } = c.var.deps;
    const { id } = c.req.valid('param');
    const { cursor, limit, state, type } = c.req.valid('query');
    found(await getEventEndpoint(db, c.var.tenantId, id), id);
    const beforeSeq = cursor ? decodeCursor(cursor, isSeqCursor).before : undefined;
    const page = await listStatusEventDeliveries(db, id, { limit, beforeSeq, state, type });
    const nextCursor = page.more && page.lastSeq ? encodeCursor({ before: page.lastSeq }) : null;
    return c.json({ items: page.items, nextCursor }, 200);
  })
  .openapi(replayRoute, async (c) => {
    const { db } = c.var.deps;
    const { id, eventId } = c.req.valid('param');
    found(await getEventEndpoint(db, c.var.tenantId, id), id);
    if (!(await replayStatusEvent(db, id, eventId))) throw notFound(`event ${eventId} of endpoint ${id}`);
    const delivery = await getStatusEventDelivery(db, id, eventId);
    if (!delivery) throw notFound(`event ${eventId} of endpoint ${id}`);
    return c.json(delivery, 202);
  });
