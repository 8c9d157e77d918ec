import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import twilio from 'twilio';
import { SecretBoxError } from '../../common/secret-box';
import { openTwilioSettings } from '../../common/settings/twilio';
import { recordProviderStatus, TERMINAL_FAILURE_STATUSES } from '../../db/queries/provider-status';
import type { ChannelName } from '../../common/types';
import { failOverLate } from '../services/late-failover';

const TWILIO_CHANNELS: readonly ChannelName[] = ['sms', 'whatsapp'];
import { getTenantSetting } from '../../db/queries/tenant-settings';
import { tenantOfTwilioMessage } from '../../db/queries/twilio';
import type { AppEnv } from '../deps';
import { HttpError } from '../errors';
import { errorResponse } from '../schemas';

/** Twilio's message status callback (the fields Herald reads; Twilio sends more, all signed). */
const StatusCallbackSchema = z
  .looseObject({
    MessageSid: z.string().min(1).max(64).openapi({ example: 'SM0123456789abcdef0123456789abcdef' }),
    MessageStatus: z.string().min(1).max(32).openapi({
      example: 'delivered',
      description:
        'queued, sending, sent, delivered, read, failed, undelivered… Applied forward only: a status not ahead of the recorded one changes nothing.',
    }),
    ErrorCode: z.string().max(16).optional().openapi({ example: '30003' }),
    ErrorMessage: z.string().max(1000).optional(),
    AccountSid: z.string().optional(),
    To: z.string().optional(),
    From: z.string().optional(),
  })
  .openapi('TwilioStatusCallback');

/** Tenant ids in a callback URL longer than this are no tenant's (ids are at most 64 characters). */
const MAX_TENANT_PARAM = 200;

const invalidSignature = (signature: string | undefined) =>
  new HttpError(403, 'invalid_signature', 'X-Twilio-Signature is missing or does not verify', [
    { path: 'X-Twilio-Signature', message: signature ? 'does not match' : 'missing' },
  ]);

/**
 * The auth token a callback must be signed with: that of the tenant whose message it names, when the
 * tenant sends through its own Twilio account, else the operator's `TWILIO_AUTH_TOKEN`. The tenant
 * is the one whose delivery has the MessageSid; before the send has stored the SID (an early
 * callback), the one the callback URL names (`?tenant=`, set on messages of tenants' own accounts).
 * A URL naming another tenant than the delivery's is refused, whatever it is signed with.
 */
async function expectedToken(c: Context<AppEnv>, messageSid: string | undefined): Promise<string | null> {
  const { db, config, secretKey } = c.var.deps;
  const named = new URL(c.req.url).searchParams.get('tenant');
  const owner = messageSid ? await tenantOfTwilioMessage(db, messageSid) : null;
  if (named !== null && (named.length > MAX_TENANT_PARAM || (owner !== null && owner !== named))) return null;
  const tenantId = owner ?? named;
  const own = tenantId === null ? null : await getTenantSetting(db, tenantId, 'twilio');
  if (own) {
    if (!secretKey) throw notConfigured('HERALD_SECRET_KEY');
    try {
      return openTwilioSettings(own, secretKey).authToken;
    } catch (error) {
      if (error instanceof SecretBoxError) throw new HttpError(500, 'secret_unreadable', error.message);
      throw error;
    }
  }
  if (!config.TWILIO_AUTH_TOKEN) throw notConfigured('TWILIO_AUTH_TOKEN');
  return config.TWILIO_AUTH_TOKEN;
}

const notConfigured = (name: string) =>
  new HttpError(503, 'not_configured', `${name} is not set: Twilio callbacks cannot be verified`, [
    { path: name, message: 'not set' },
  ]);

/**
 * Refuses callbacks whose `X-Twilio-Signature` is not Twilio's HMAC-SHA1 (keyed by the right auth
 * token, see expectedToken) of the public URL Twilio called plus the sorted POST parameters. The URL
 * is `PUBLIC_BASE_URL` + the path and query as received, since a proxy in front of the API changes
 * scheme and host. Runs before the body is validated, so an unsigned request learns nothing about the
 * expected fields.
 */
const verifyTwilioSignature: MiddlewareHandler<AppEnv> = async (c, next) => {
  const publicBaseUrl = c.var.deps.config.PUBLIC_BASE_URL;
  if (!publicBaseUrl) throw notConfigured('PUBLIC_BASE_URL');
  const signature = c.req.header('x-twilio-signature');
  const url = `${publicBaseUrl.replace(/\/+$/, '')}${pathAndQuery(c.req.url)}`;
  const params = formParams(await c.req.text());
  const messageSid = typeof params.MessageSid === 'string' ? params.MessageSid : undefined;
  const authToken = await expectedToken(c, messageSid);
  if (!signature || authToken === null || !twilio.validateRequest(authToken, signature, url, params))
    throw invalidSignature(signature);
  await next();
};

const statusRoute = createRoute({
  method: 'post',
  path: '/v1/providers/twilio/status',
  // Public: Twilio proves itself with X-Twilio-Signature, not an API key.
  security: [],
  tags: ['providers'],
  summary: 'Twilio message status callback',
  description:
    "Twilio posts here (each SMS/WhatsApp message asks for it when `PUBLIC_BASE_URL` is set). The request must carry a valid `X-Twilio-Signature` computed over `PUBLIC_BASE_URL` + this path (+ query) and the POST parameters, keyed by the auth token of the account that sent the message: the tenant's own (PUT /v1/settings/twilio; its messages ask for callbacks with `?tenant=<id>`) or else the operator's `TWILIO_AUTH_TOKEN`. `delivered`/`read` mark the delivery delivered, `failed`/`undelivered` mark it failed; statuses only move forward, so late and replayed callbacks change nothing. A callback that arrives before the send has stored the message SID is kept and applied when it is.",
  middleware: [verifyTwilioSignature] as const,
  request: {
    headers: z.object({
      'x-twilio-signature': z.string().optional().openapi({ description: 'Base64 HMAC-SHA1 signature' }),
    }),
    query: z.object({
      tenant: z.string().optional().openapi({
        description:
          'The tenant whose own Twilio account sent the message (set by Herald in the callback URL)',
      }),
    }),
    body: {
      content: { 'application/x-www-form-urlencoded': { schema: StatusCallbackSchema } },
      description: 'The status callback, form-encoded as Twilio sends it',
      required: true,
    },
  },
  responses: {
    204: { description: 'Applied, kept until the message SID is stored, or already known (nothing changed)' },
    400: errorResponse('Missing MessageSid or MessageStatus'),
    403: errorResponse('Missing or invalid X-Twilio-Signature'),
    503: errorResponse(
      'PUBLIC_BASE_URL, or the token to verify with (TWILIO_AUTH_TOKEN, HERALD_SECRET_KEY), is not set',
    ),
  },
});

export const twilioRoutes = new OpenAPIHono<AppEnv>().openapi(statusRoute, async (c) => {
  const callback = c.req.valid('form');
  // A callback for a SID the worker has not stored yet is kept and applied when it is.
  const outcome = await recordProviderStatus(c.var.deps.db, {
    channel: TWILIO_CHANNELS,
    providerMessageId: callback.MessageSid,
    status: callback.MessageStatus,
    errorCode: callback.ErrorCode,
    errorMessage: callback.ErrorMessage,
  });
  // A message that failed after its send wakes the next channel of the recipient's failover chain.
  if (
    outcome === 'applied' &&
    (TERMINAL_FAILURE_STATUSES as readonly string[]).includes(callback.MessageStatus)
  )
    await failOverLate(c.var.deps, TWILIO_CHANNELS, callback.MessageSid);
  return c.body(null, 204);
});

/** The path and query of a URL exactly as they appear in it. */
function pathAndQuery(url: string): string {
  const afterScheme = url.indexOf('//') + 2;
  const pathStart = url.indexOf('/', afterScheme);
  return pathStart === -1 ? '/' : url.slice(pathStart).replace(/#.*$/, '');
}

/** A form body as Twilio signs it: every key once, repeated keys as arrays. */
function formParams(body: string): Record<string, string | string[]> {
  const params: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const seen = params[key];
    params[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return params;
}
