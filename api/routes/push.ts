import { OpenAPIHono, z } from '@hono/zod-openapi';
import { isP256Point } from '../../common/p256-keys';
import { checkPublicUrl, resolverFromSettings, type UrlPolicy } from '../../common/url-safety';
import {
  deletePushSubscriptionByEndpoint,
  upsertPushSubscription,
  type PushSubscription,
} from '../../db/queries/push-subscriptions';
import { getRecipient } from '../../db/queries/recipients';
import type { ApiConfig } from '../config';
import { securedRoute } from '../auth/access';
import type { AppEnv } from '../deps';
import { HttpError, notFound, validationFailed } from '../errors';
import { errorResponse, identifier, jsonBody, jsonResponse } from '../schemas';

/** base64 or base64url, padded or not (browsers send unpadded base64url); stored as unpadded base64url. */
const toBase64url = (s: string) => s.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const BASE64 = /^[A-Za-z0-9_+/-]+={0,2}$/;

/** Why a browser's p256dh key is unusable, or null: it must be an uncompressed P-256 point. */
function p256dhProblem(s: string): string | null {
  if (!BASE64.test(s)) return 'must be base64url';
  const point = Buffer.from(toBase64url(s), 'base64url');
  if (point.length !== 65)
    return `must decode to 65 bytes (an uncompressed P-256 point), not ${point.length}`;
  return isP256Point(point) ? null : 'is not a point on P-256';
}

function authProblem(s: string): string | null {
  if (!BASE64.test(s)) return 'must be base64url';
  const length = Buffer.from(toBase64url(s), 'base64url').length;
  return length === 16 ? null : `must decode to 16 bytes, not ${length}`;
}

/** A string check reporting one problem at most. */
const checked = (problem: (s: string) => string | null) =>
  z.string().superRefine((s, ctx) => {
    const message = problem(s);
    if (message) ctx.addIssue({ code: 'custom', message });
  });

const PushSubscriptionInputSchema = z
  .object({
    endpoint: z
      .string()
      .min(1)
      .max(2048)
      .openapi({ example: 'https://fcm.googleapis.com/fcm/send/dQw4w9WgXcQ:APA91b…' }),
    expirationTime: z.number().nullable().optional(),
    keys: z.object({
      p256dh: checked(p256dhProblem).openapi({ description: "the browser's ECDH public key, base64url" }),
      auth: checked(authProblem).openapi({ description: "the browser's auth secret, base64url" }),
    }),
    userAgent: z
      .string()
      .max(512)
      .optional()
      .openapi({ description: 'defaults to the User-Agent header of this request' }),
  })
  .openapi('PushSubscriptionInput', {
    description: "A browser's PushSubscription.toJSON(), optionally with the device's user agent",
  });

const PushSubscriptionSchema = z
  .object({
    id: z.string(),
    externalId: z.string(),
    endpoint: z.string(),
    userAgent: z.string().nullable(),
    createdAt: z.string(),
    lastUsedAt: z.string().nullable(),
  })
  .openapi('PushSubscription');

const params = z.object({ externalId: identifier('externalId', 'tech-42') });

const publicKeyRoute = securedRoute(
  { scope: 'read', endUser: true },
  {
    method: 'get',
    path: '/v1/push/public-key',
    tags: ['push'],
    summary: "The VAPID public key, for the browser's pushManager.subscribe({ applicationServerKey })",
    responses: {
      200: jsonResponse(z.object({ publicKey: z.string() }).openapi('VapidPublicKey'), 'The key, base64url'),
      503: errorResponse('Web push is not configured (VAPID_PUBLIC_KEY is not set)'),
    },
  },
);

const subscribeRoute = securedRoute(
  { scope: 'manage', endUser: true },
  {
    method: 'post',
    path: '/v1/recipients/{externalId}/push-subscriptions',
    tags: ['push'],
    summary: 'Register a browser push subscription for a recipient',
    description:
      'The endpoint must be https and must not resolve to a private, loopback or link-local address ' +
      '(HERALD_ALLOW_LOOPBACK_URLS=true allows loopback, over http too, for development). ' +
      'An endpoint already registered in the tenant is updated and moves to this recipient. ' +
      'A recipient has at most MAX_PUSH_SUBSCRIPTIONS_PER_RECIPIENT subscriptions (re-subscribing one of them is not a new one).',
    request: { params, body: jsonBody(PushSubscriptionInputSchema, 'The PushSubscription') },
    responses: {
      200: jsonResponse(PushSubscriptionSchema, 'Updated (the endpoint was registered already)'),
      201: jsonResponse(PushSubscriptionSchema, 'Registered'),
      400: errorResponse('Malformed subscription (e.g. keys of the wrong length)'),
      404: errorResponse('No such recipient'),
      422: errorResponse(
        'Endpoint refused (not https, or a private/loopback/link-local address), or the recipient has ' +
          'MAX_PUSH_SUBSCRIPTIONS_PER_RECIPIENT subscriptions already (`limit_exceeded`)',
      ),
      503: errorResponse("The endpoint's host could not be resolved now; try again"),
    },
  },
);

const EndpointSchema = z.object({ endpoint: z.string().min(1).max(2048).optional() });

const unsubscribeRoute = securedRoute(
  { scope: 'manage', endUser: true },
  {
    method: 'delete',
    path: '/v1/recipients/{externalId}/push-subscriptions',
    tags: ['push'],
    summary: "Remove a recipient's push subscription by its endpoint",
    description: 'The endpoint is given in the JSON body `{"endpoint": "…"}` or as the query `?endpoint=`.',
    request: {
      params,
      query: EndpointSchema,
      body: { content: { 'application/json': { schema: EndpointSchema } }, required: false },
    },
    responses: {
      204: { description: 'Removed' },
      400: errorResponse('No endpoint given'),
      404: errorResponse('No such recipient or subscription'),
    },
  },
);

const resolvers = new WeakMap<ApiConfig, UrlPolicy['resolver']>();

function urlPolicy(config: ApiConfig): UrlPolicy {
  if (!resolvers.has(config))
    resolvers.set(config, resolverFromSettings({ HERALD_DNS_SERVERS: config.HERALD_DNS_SERVERS }));
  return { allowLoopback: config.HERALD_ALLOW_LOOPBACK_URLS === 'true', resolver: resolvers.get(config) };
}

const view = ({ p256dh: _p, auth: _a, ...rest }: PushSubscription) => rest;

/** Routes for web push subscriptions and the VAPID public key. */
export const pushRoutes = new OpenAPIHono<AppEnv>()
  .openapi(publicKeyRoute, (c) => {
    const publicKey = c.var.deps.config.VAPID_PUBLIC_KEY;
    if (!publicKey)
      throw new HttpError(
        503,
        'push_not_configured',
        'web push is not configured: VAPID_PUBLIC_KEY is not set',
        [{ path: 'VAPID_PUBLIC_KEY', message: 'is not set' }],
      );
    return c.json({ publicKey }, 200);
  })
  .openapi(subscribeRoute, async (c) => {
    const { db, config } = c.var.deps;
    const { externalId } = c.req.valid('param');
    const body = c.req.valid('json');
    if (!(await getRecipient(db, c.var.tenantId, externalId))) throw notFound(`recipient ${externalId}`);
    const check = await checkPublicUrl(body.endpoint, urlPolicy(config));
    if (!check.ok) {
      if (check.temporary)
        throw new HttpError(503, 'endpoint_unverified', `endpoint ${check.reason}`, [
          { path: 'endpoint', message: check.reason },
        ]);
      throw validationFailed([{ path: 'endpoint', message: check.reason }]);
    }
    const max = config.MAX_PUSH_SUBSCRIPTIONS_PER_RECIPIENT;
    const outcome = await upsertPushSubscription(
      db,
      c.var.tenantId,
      externalId,
      {
        endpoint: body.endpoint,
        p256dh: toBase64url(body.keys.p256dh),
        auth: toBase64url(body.keys.auth),
        userAgent: (body.userAgent ?? c.req.header('user-agent') ?? '').slice(0, 512) || null,
      },
      max,
    );
    if (!outcome.ok) {
      if (outcome.count === null) throw notFound(`recipient ${externalId}`);
      throw new HttpError(
        422,
        'limit_exceeded',
        `recipient ${externalId} has ${outcome.count} push subscriptions, the most allowed (MAX_PUSH_SUBSCRIPTIONS_PER_RECIPIENT=${max}); remove one first`,
        [
          {
            path: 'endpoint',
            message: `a new endpoint would pass the limit of ${max} push subscriptions per recipient`,
          },
        ],
      );
    }
    const { subscription, created } = outcome;
    return created ? c.json(view(subscription), 201) : c.json(view(subscription), 200);
  })
  .openapi(unsubscribeRoute, async (c) => {
    const { externalId } = c.req.valid('param');
    const endpoint = c.req.valid('json').endpoint ?? c.req.valid('query').endpoint;
    if (!endpoint)
      throw validationFailed(
        [{ path: 'endpoint', message: 'give the endpoint in the body or the query' }],
        400,
      );
    if (!(await getRecipient(c.var.deps.db, c.var.tenantId, externalId)))
      throw notFound(`recipient ${externalId}`);
    if (!(await deletePushSubscriptionByEndpoint(c.var.deps.db, c.var.tenantId, externalId, endpoint)))
      throw notFound(`push subscription ${endpoint} of ${externalId}`);
    return c.body(null, 204);
  });
