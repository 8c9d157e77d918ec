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
import { getRecipient } from '../../db/queries/recipients';
import {
  addWebhookSecret,
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  enableWebhookEndpoint,
  getWebhookEndpoint,
  listWebhookEndpoints,
  removeOldWebhookSecrets,
  WEBHOOK_PRESETS,
  type WebhookEndpoint,
  type WebhookPreset,
} from '../../db/queries/webhook-endpoints';
import type { ApiConfig } from '../config';
import { securedRoute } from '../auth/access';
import type { AppEnv } from '../deps';
import { sealingKey } from '../sealing-key';
import { HttpError, notFound, validationFailed } from '../errors';
import { errorResponse, jsonBody, jsonResponse, SigningSecretInput } from '../schemas';

/** Signing secrets an endpoint may hold at once (the newest signs; the others only during a rotation). */
const MAX_SECRETS = 5;

/** Chat presets post what the chat service reads, and it verifies no signature. */
const UNSIGNED_PRESETS: ReadonlySet<WebhookPreset> = new Set(['slack', 'teams']);
const presetName = (preset: WebhookPreset) => (preset === 'teams' ? 'Teams' : 'Slack');

const WebhookEndpointSchema = z
  .object({
    id: z.string().uuid(),
    url: z.string().openapi({
      description:
        'masked: scheme, host and at most the first path word (the URL is a credential, sealed at rest and never shown again)',
      example: 'https://hooks.slack.com/services/****',
    }),
    recipient: z
      .string()
      .nullable()
      .openapi({ description: 'externalId of the recipient; null for a tenant-wide endpoint' }),
    preset: z.enum(WEBHOOK_PRESETS),
    secrets: z.array(z.string()).openapi({
      description: 'the signing secrets, masked, newest first (empty for Slack and Teams)',
      example: ['whsec_…Xk4='],
    }),
    disabled: z.boolean(),
    disabledAt: z.string().nullable(),
    disabledReason: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('WebhookEndpoint');

const WithSecretSchema = WebhookEndpointSchema.extend({
  secret: z.string().nullable().openapi({
    description:
      'the new signing secret in full, shown this once only; null for Slack and Teams (not signed)',
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  }),
}).openapi('WebhookEndpointWithSecret');

const WebhookEndpointInputSchema = z
  .object({
    url: z.string().min(1).max(2048).openapi({ example: 'https://hooks.example.com/herald' }),
    recipient: z.string().min(1).max(255).optional().openapi({
      description: "the recipient's externalId; omit for a tenant-wide endpoint",
      example: 'tech-42',
    }),
    preset: z.enum(WEBHOOK_PRESETS).default('standard'),
    secret: SigningSecretInput,
  })
  .strict()
  .openapi('WebhookEndpointInput');

const idParams = z.object({
  id: z
    .string()
    .uuid()
    .openapi({ param: { name: 'id', in: 'path' }, example: '2b1f3c7e-8a59-4c3e-9d1b-0f6a2d9e4c11' }),
});

const notConfigured = errorResponse('HERALD_SECRET_KEY is not set: webhook endpoints cannot be managed');
const tags = ['webhooks'];

const createEndpointRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'post',
    path: '/v1/webhook-endpoints',
    tags,
    summary: 'Register a webhook endpoint (per recipient, or tenant-wide)',
    description:
      'Standard endpoints are signed per the Standard Webhooks scheme; the secret is shown once in this answer. ' +
      'Slack endpoints (incoming webhooks) get `{"text": …}` and are not signed. ' +
      'Teams endpoints (a Workflows or incoming webhook URL) get a message with one Adaptive Card (1.4) built from the ' +
      "event's push card (else its in-app card, else its email subject), with an Open button for its link; not signed.",
    request: { body: jsonBody(WebhookEndpointInputSchema, 'The endpoint') },
    responses: {
      201: jsonResponse(WithSecretSchema, 'Registered; `secret` is shown this once'),
      400: errorResponse('Invalid body, e.g. a secret shorter than 24 bytes'),
      422: errorResponse(
        'URL refused (not https, or a private address), unknown recipient, or the tenant holds MAX_WEBHOOK_ENDPOINTS_PER_TENANT endpoints already',
      ),
      503: notConfigured,
    },
  },
);

const listRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'get',
    path: '/v1/webhook-endpoints',
    tags,
    summary: 'List webhook endpoints',
    request: {
      query: z.object({ recipient: z.string().optional().openapi({ description: 'only this recipient’s' }) }),
    },
    responses: {
      200: jsonResponse(z.object({ items: z.array(WebhookEndpointSchema) }), 'The endpoints, oldest first'),
      503: notConfigured,
    },
  },
);

const getRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'get',
    path: '/v1/webhook-endpoints/{id}',
    tags,
    summary: 'Get a webhook endpoint (secrets masked)',
    request: { params: idParams },
    responses: {
      200: jsonResponse(WebhookEndpointSchema, 'The endpoint'),
      404: errorResponse('No such endpoint'),
      503: notConfigured,
    },
  },
);

const deleteRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'delete',
    path: '/v1/webhook-endpoints/{id}',
    tags,
    summary: 'Delete a webhook endpoint',
    request: { params: idParams },
    responses: { 204: { description: 'Deleted' }, 404: errorResponse('No such endpoint') },
  },
);

const rotateRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'post',
    path: '/v1/webhook-endpoints/{id}/rotate-secret',
    tags,
    summary: 'Start a secret rotation: a new secret signs, the old ones still sign until removed',
    request: { params: idParams },
    responses: {
      200: jsonResponse(WithSecretSchema, 'The new secret, shown this once'),
      404: errorResponse('No such endpoint'),
      409: errorResponse(
        'Slack and Teams endpoints are not signed, or too many secrets: remove the old ones first',
      ),
      503: notConfigured,
    },
  },
);

const removeOldRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'delete',
    path: '/v1/webhook-endpoints/{id}/secrets/old',
    tags,
    summary: 'End a secret rotation: keep only the newest secret',
    request: { params: idParams },
    responses: {
      200: jsonResponse(WebhookEndpointSchema, 'The endpoint'),
      404: errorResponse('No such endpoint'),
      503: notConfigured,
    },
  },
);

const enableRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'post',
    path: '/v1/webhook-endpoints/{id}/enable',
    tags,
    summary: 'Re-enable an endpoint that was disabled (e.g. after it answered 410 Gone)',
    request: { params: idParams },
    responses: {
      200: jsonResponse(WebhookEndpointSchema, 'The endpoint'),
      404: errorResponse('No such endpoint'),
      503: notConfigured,
    },
  },
);

type Ctx = Context<AppEnv>;

const secretKey = (c: Ctx): Buffer => sealingKey(c, 'webhook secrets', 'webhooks_not_configured');

function present(endpoint: WebhookEndpoint, key: Buffer) {
  let secrets: string[];
  let url: string;
  try {
    secrets = endpoint.sealedSecrets.map((sealed) => maskWebhookSecret(openSecret(sealed, key)));
    url = maskWebhookUrl(openEndpointUrl(endpoint.storedUrl, key));
  } catch (error) {
    if (!(error instanceof SecretBoxError)) throw error;
    throw new HttpError(500, 'secret_unreadable', error.message);
  }
  return {
    id: endpoint.id,
    url,
    recipient: endpoint.externalId,
    preset: endpoint.preset,
    secrets,
    disabled: endpoint.disabledAt !== null,
    disabledAt: endpoint.disabledAt,
    disabledReason: endpoint.disabledReason,
    createdAt: endpoint.createdAt,
    updatedAt: endpoint.updatedAt,
  };
}

const resolvers = new WeakMap<ApiConfig, UrlPolicy['resolver']>();

/** The URL rules of this API (loopback only in development); one resolver per configuration. */
function urlPolicy(config: ApiConfig): UrlPolicy {
  if (!resolvers.has(config))
    resolvers.set(config, resolverFromSettings({ HERALD_DNS_SERVERS: config.HERALD_DNS_SERVERS }));
  return { allowLoopback: config.HERALD_ALLOW_LOOPBACK_URLS === 'true', resolver: resolvers.get(config) };
}

async function endpointOr404(c: Ctx, id: string): Promise<WebhookEndpoint> {
  const endpoint = await getWebhookEndpoint(c.var.deps.db, c.var.tenantId, id);
  if (!endpoint) throw notFound(`webhook endpoint ${id}`);
  return endpoint;
}

const found = (endpoint: WebhookEndpoint | null, id: string): WebhookEndpoint => {
  if (!endpoint) throw notFound(`webhook endpoint ${id}`);
  return endpoint;
};

export const webhookRoutes = new OpenAPIHono<AppEnv>()
  .openapi(createEndpointRoute, async (c) => {
    const key = secretKey(c);
    const { db, config } = c.var.deps;
    const input = c.req.valid('json');
    if (UNSIGNED_PRESETS.has(input.preset) && input.secret !== undefined) {
      throw validationFailed(
        [{ path: 'secret', message: `${presetName(input.preset)} endpoints are not signed: omit secret` }],
        400,
      );
    }
    const check = await checkPublicUrl(input.url, urlPolicy(config));
    if (!check.ok) throw validationFailed([{ path: 'url', message: check.reason }]);
    if (input.recipient !== undefined && !(await getRecipient(db, c.var.tenantId, input.recipient))) {
      throw validationFailed([{ path: 'recipient', message: `unknown recipient ${input.recipient}` }]);
    }
    const secret = UNSIGNED_PRESETS.has(input.preset) ? null : (input.secret ?? generateWebhookSecret());
    const limit = config.MAX_WEBHOOK_ENDPOINTS_PER_TENANT;
    let created: Awaited<ReturnType<typeof createWebhookEndpoint>>;
    try {
      created = await createWebhookEndpoint(
        db,
        {
          id: randomUUID(),
          tenantId: c.var.tenantId,
          externalId: input.recipient ?? null,
          storedUrl: sealEndpointUrl(check.url.href, key),
          preset: input.preset,
          sealedSecrets: secret === null ? [] : [sealSecret(secret, key)],
        },
        limit,
      );
    } catch (error) {
      // The recipient was deleted between the check and the insert.
      if ((error as { code?: string }).code === '23503')
        throw validationFailed([{ path: 'recipient', message: `unknown recipient ${input.recipient}` }]);
      throw error;
    }
    if ('limitReached' in created) {
      throw new HttpError(
        422,
        'limit_reached',
        `a tenant holds at most ${limit} webhook endpoints (MAX_WEBHOOK_ENDPOINTS_PER_TENANT): delete one first`,
        [{ path: 'url', message: `the tenant has ${limit} webhook endpoints already` }],
      );
    }
    const { endpoint } = created;
    return c.json({ ...present(endpoint, key), secret }, 201);
  })
  .openapi(listRoute, async (c) => {
    const key = secretKey(c);
    const { recipient } = c.req.valid('query');
    const items = await listWebhookEndpoints(
      c.var.deps.db,
      c.var.tenantId,
      recipient === undefined ? {} : { externalId: recipient },
    );
    return c.json({ items: items.map((e) => present(e, key)) }, 200);
  })
  .openapi(getRoute, async (c) => {
    const key = secretKey(c);
    return c.json(present(await endpointOr404(c, c.req.valid('param').id), key), 200);
  })
  .openapi(deleteRoute, async (c) => {
    const { id } = c.req.valid('param');
    if (!(await deleteWebhookEndpoint(c.var.deps.db, c.var.tenantId, id)))
      throw notFound(`webhook endpoint ${id}`);
    return c.body(null, 204);
  })
  .openapi(rotateRoute, async (c) => {
    const key = secretKey(c);
    const { id } = c.req.valid('param');
    const endpoint = await endpointOr404(c, id);
    if (UNSIGNED_PRESETS.has(endpoint.preset))
      throw new HttpError(
        409,
        'not_signed',
        `${presetName(endpoint.preset)} endpoints are not signed: there is no secret to rotate`,
      );
    if (endpoint.sealedSecrets.length >= MAX_SECRETS) {
      throw new HttpError(
        409,
        'too_many_secrets',
        `an endpoint holds at most ${MAX_SECRETS} secrets: remove the old ones first (DELETE /v1/webhook-endpoints/${id}/secrets/old)`,
      );
    }
    const secret = generateWebhookSecret();
    const rotated = found(
      await addWebhookSecret(c.var.deps.db, c.var.tenantId, id, sealSecret(secret, key)),
      id,
    );
    return c.json({ ...present(rotated, key), secret }, 200);
  })
  .openapi(removeOldRoute, async (c) => {
    const key = secretKey(c);
    const { id } = c.req.valid('param');
    return c.json(
      present(found(await removeOldWebhookSecrets(c.var.deps.db, c.var.tenantId, id), id), key),
      200,
    );
  })
  .openapi(enableRoute, async (c) => {
    const key = secretKey(c);
    const { id } = c.req.valid('param');
    return c.json(
      present(found(await enableWebhookEndpoint(c.var.deps.db, c.var.tenantId, id), id), key),
      200,
    );
  });
