import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import {
  MAX_TOKEN_LENGTH,
  unsubscribeKey,
  verifyUnsubscribeToken,
  type UnsubscribeClaims,
} from '../../common/unsubscribe-token';
import {
  addEmailSuppression,
  isEmailSuppressed,
  isRecipientUnsubscribed,
  removeEmailSuppression,
  resubscribeRecipient,
  unsubscribeRecipient,
} from '../../db/queries/suppressions';
import { getTenantSetting } from '../../db/queries/tenant-settings';
import type { AppEnv } from '../deps';
import { HttpError, notFound } from '../errors';
import { errorResponse } from '../schemas';
import { renderUnsubscribePage, UNSUBSCRIBE_PAGE_HEADERS, type UnsubscribeState } from './unsubscribe-page';

/**
 * One-click unsubscribe (RFC 8058, RFC 2369): the link in every email's `List-Unsubscribe` header and
 * footer. It needs no key: the signed token (common/unsubscribe-token.ts) says whom and what.
 * - `POST /v1/unsubscribe/{token}` with `List-Unsubscribe=One-Click` (what mail providers send, and
 *   what the page's button sends) opts the person out of the token's category on email: a recipient
 *   in their preferences (`unsubscribed.email`), a raw address on the tenant's suppression list.
 * - `GET` only shows a page with the button: mail scanners open links, and must not unsubscribe.
 * - `POST …/resubscribe` undoes it.
 */

type Ctx = Context<AppEnv>;

/** The token's claims, or 403 (tampered, foreign, garbage); 503 when this API cannot check tokens. */
function verified(c: Ctx): UnsubscribeClaims & { token: string } {
  const secretKey = c.var.deps.secretKey;
  if (!secretKey) {
    throw new HttpError(
      503,
      'not_configured',
      'HERALD_SECRET_KEY is not set: unsubscribe links cannot be checked',
      [{ path: 'HERALD_SECRET_KEY', message: 'not set' }],
    );
  }
  const token = c.req.param('token') ?? '';
  const claims = verifyUnsubscribeToken(unsubscribeKey(secretKey), token);
  if (!claims) {
    throw new HttpError(403, 'invalid_token', 'this unsubscribe link is not valid', [
      { path: 'token', message: 'does not verify' },
    ]);
  }
  return { ...claims, token };
}

/** Before the body is read: a request with a bad token learns nothing about the expected fields. */
const verifyToken: MiddlewareHandler<AppEnv> = async (c, next) => {
  verified(c);
  await next();
};

/** Opts the token's subject out (true) or back in (false); 404 when the recipient or tenant is gone. */
async function setUnsubscribed(c: Ctx, claims: UnsubscribeClaims, unsubscribed: boolean): Promise<void> {
  const { db } = c.var.deps;
  const { tenantId, subject, category } = claims;
  let found: boolean;
  if (subject.kind === 'recipient') {
    found = unsubscribed
      ? await unsubscribeRecipient(db, tenantId, subject.externalId, category)
      : await resubscribeRecipient(db, tenantId, subject.externalId, category);
  } else {
    found = unsubscribed
      ? await addEmailSuppression(db, tenantId, subject.address, category)
      : await removeEmailSuppression(db, tenantId, subject.address, category);
  }
  if (!found)
    throw notFound(subject.kind === 'recipient' ? 'the recipient of this link' : 'the sender of this link');
}

/** Whether the token's subject is unsubscribed now; 404 when the recipient is gone. */
async function isUnsubscribed(c: Ctx, claims: UnsubscribeClaims): Promise<boolean> {
  const { db } = c.var.deps;
  const { tenantId, subject, category } = claims;
  if (subject.kind === 'address') return isEmailSuppressed(db, tenantId, subject.address, category);
  const state = await isRecipientUnsubscribed(db, tenantId, subject.externalId, category);
  if (state === null) throw notFound('the recipient of this link');
  return state;
}

/** The tenant's brand name when its brand settings have one, else the operator's BRAND_NAME. */
async function brandName(c: Ctx, tenantId: string): Promise<string> {
  const brand = await getTenantSetting(c.var.deps.db, tenantId, 'brand');
  const name = brand?.config.name;
  return typeof name === 'string' && name.trim() ? name : c.var.deps.config.BRAND_NAME;
}

async function page(
  c: Ctx,
  claims: UnsubscribeClaims & { token: string },
  state: UnsubscribeState,
  at: 'link' | 'resubscribe',
) {
  const html = renderUnsubscribePage({
    state,
    at,
    token: claims.token,
    category: claims.category,
    brandName: await brandName(c, claims.tenantId),
    preferencesUrl: c.var.deps.config.PREFERENCES_URL,
  });
  for (const [name, value] of Object.entries(UNSUBSCRIBE_PAGE_HEADERS)) c.header(name, value);
  return c.html(html, 200);
}

/** A browser (the page's button) gets the page back; a mail provider's one-click POST gets JSON. */
const wantsHtml = (c: Ctx): boolean => /\btext\/html\b/.test(c.req.header('accept') ?? '');

const tokenParam = z.object({
  token: z
    .string()
    .min(1)
    .max(MAX_TOKEN_LENGTH)
    .openapi({ param: { name: 'token', in: 'path' }, description: 'The signed token from the link' }),
});

const OneClickSchema = z
  .object({
    'List-Unsubscribe': z.literal('One-Click', { error: 'must be One-Click (RFC 8058)' }),
  })
  .openapi('UnsubscribeOneClick');

const UnsubscribedSchema = z
  .object({
    unsubscribed: z.literal(true),
    channel: z.literal('email'),
    category: z.string().openapi({ example: 'jobs' }),
  })
  .openapi('Unsubscribed');

const oneClickRoute = createRoute({
  method: 'post',
  path: '/v1/unsubscribe/{token}',
  // Public: the signed token is the credential (RFC 8058 forbids asking for more).
  security: [],
  tags: ['unsubscribe'],
  summary: 'One-click unsubscribe (RFC 8058)',
  description:
    "The URL of an email's `List-Unsubscribe` header. A POST with `List-Unsubscribe=One-Click` opts the person " +
    "out of the token's event category on email: a recipient gets the category in their preferences' " +
    "`unsubscribed.email`, a raw address goes on the tenant's suppression list; their next email of that category ends `suppressed` " +
    '(`unsubscribed from category <c>`). Idempotent. No API key: the token is signed (HMAC-SHA256) and names tenant, person and category. ' +
    'Answers JSON, or the confirmation page when the request accepts `text/html`. `GET` on the same URL shows a page with the button (it changes nothing).',
  middleware: [verifyToken] as const,
  request: {
    params: tokenParam,
    body: {
      content: {
        'application/x-www-form-urlencoded': { schema: OneClickSchema },
        'multipart/form-data': { schema: OneClickSchema },
      },
      description: 'What mail providers send: `List-Unsubscribe=One-Click`',
      required: false,
    },
  },
  responses: {
    200: {
      description: 'Unsubscribed (or already)',
      content: {
        'application/json': { schema: UnsubscribedSchema },
        'text/html': { schema: z.string() },
      },
    },
    400: errorResponse('The body is not List-Unsubscribe=One-Click'),
    403: errorResponse('The token is not valid (tampered, or signed by another key)'),
    404: errorResponse('The recipient of the link no longer exists'),
    415: errorResponse('The body is not a form (application/x-www-form-urlencoded or multipart/form-data)'),
    503: errorResponse('HERALD_SECRET_KEY is not set'),
  },
});

const missingOneClick = () =>
  new HttpError(400, 'validation_failed', 'List-Unsubscribe: send List-Unsubscribe=One-Click as a form', [
    {
      path: 'List-Unsubscribe',
      message: 'required: One-Click, form-encoded (application/x-www-form-urlencoded)',
    },
  ]);

export const unsubscribeRoutes = new OpenAPIHono<AppEnv>()
  .openapi(oneClickRoute, async (c) => {
    const claims = verified(c);
    // A body of another type is not validated by the route; the field is required all the same.
    if (c.req.valid('form')['List-Unsubscribe'] !== 'One-Click') throw missingOneClick();
    await setUnsubscribed(c, claims, true);
    if (wantsHtml(c)) return page(c, claims, 'unsubscribed', 'link');
    return c.json({ unsubscribed: true as const, channel: 'email' as const, category: claims.category }, 200);
  })
  // Not in the document (HTML for people, like the acknowledgement link).
  .get('/v1/unsubscribe/:token', async (c) => {
    const claims = verified(c);
    return page(c, claims, (await isUnsubscribed(c, claims)) ? 'unsubscribed' : 'confirm', 'link');
  })
  .post('/v1/unsubscribe/:token/resubscribe', async (c) => {
    const claims = verified(c);
    await setUnsubscribed(c, claims, false);
    return page(c, claims, 'resubscribed', 'resubscribe');
  });
