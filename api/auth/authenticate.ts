import type { MiddlewareHandler } from 'hono';
import { hashApiKey, looksLikeApiKey } from '../../common/api-keys';
import {
  findActiveApiKey,
  findActiveApiKeyCounting,
  touchApiKey,
  type ApiKeyPrincipal,
} from '../../db/queries/api-keys';
import type { RateWindow } from '../../db/queries/rate-limits';
import type { AppEnv } from '../deps';
import { HttpError } from '../errors';
import { endUserTokenKey, looksLikeEndUserToken, verifyEndUserToken } from './end-user-token';
import type { Principal } from './principal';
import { enforceRateLimit } from './rate-limit';

/**
 * `/v1` routes that check a credential of their own instead of a key: the signed acknowledgement
 * link (its HMAC), Twilio's status callback (`X-Twilio-Signature`) and the one-click unsubscribe
 * link (its signed token; RFC 8058 allows nothing more).
 */
const SELF_AUTHENTICATED = [
  /^\/v1\/notifications\/[^/]+\/ack-link$/,
  /^\/v1\/providers\/twilio\/status$/,
  /^\/v1\/unsubscribe\/[^/]+(\/resubscribe)?$/,
];

/**
 * EventSource cannot set headers, so the live inbox also takes its token as `?token=`: an end-user
 * token only, since URLs end up in access logs and an API key there would outlive the visit.
 */
const TOKEN_IN_QUERY = /^\/v1\/recipients\/[^/]+\/inbox\/stream$/;

export const unauthorized = (message: string) =>
  new HttpError(401, 'unauthorized', message, [{ path: 'Authorization', message }]);

/**
 * Who is calling, for every `/v1` route: `Authorization: Bearer <key or end-user token>`, or 401.
 * What the caller may do is checked per route (see `access.ts`).
 */
export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (SELF_AUTHENTICATED.some((pattern) => pattern.test(c.req.path))) return next();
  c.header('WWW-Authenticate', 'Bearer realm="herald"');
  const { principal, window } = await identify(
    c.var.deps,
    bearer(c.req.header('authorization'), c.req.path, c.req.query('token')),
  );
  c.set('principal', principal);
  await enforceRateLimit(c, principal, window);
  return next();
};

function bearer(header: string | undefined, path: string, queryToken: string | undefined): string {
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw unauthorized('the Authorization header must be "Bearer <API key>"');
    return match[1]!;
  }
  if (queryToken && TOKEN_IN_QUERY.test(path)) {
    if (!looksLikeEndUserToken(queryToken)) {
      throw unauthorized(
        '?token= takes an end-user token (heu_…); send an API key as "Authorization: Bearer <key>"',
      );
    }
    return queryToken;
  }
  throw unauthorized('this route needs an API key: send "Authorization: Bearer <key>"');
}

/** The caller, and for an API key the request already counted against its rate limit. */
async function identify(
  deps: AppEnv['Variables']['deps'],
  credential: string,
): Promise<{ principal: Principal; window?: RateWindow }> {
  if (looksLikeEndUserToken(credential)) {
    const secret = deps.secretKey;
    if (!secret) throw unauthorized('end-user tokens are not accepted: HERALD_SECRET_KEY is not set');
    const check = verifyEndUserToken(endUserTokenKey(secret), credential);
    if (!check.ok) {
      throw unauthorized(
        check.reason === 'expired' ? 'the end-user token has expired' : 'invalid end-user token',
      );
    }
    return { principal: { kind: 'end_user', ...check.claims } };
  }
  if (!looksLikeApiKey(credential)) throw unauthorized('malformed API key (keys look like hk_…)');
  const found: { key: ApiKeyPrincipal; window?: RateWindow } | null =
    deps.config.RATE_LIMIT_PER_MINUTE === 0
      ? await findActiveApiKey(deps.db, hashApiKey(credential)).then((key) => key && { key })
      : await findActiveApiKeyCounting(deps.db, hashApiKey(credential));
  if (!found) throw unauthorized('unknown or revoked API key');
  const { key, window } = found;
  // Bookkeeping only: a failed write must not fail the request.
  if (key.useIsStale) void touchApiKey(deps.db, key.id).catch(() => undefined);
  return {
    principal: { kind: 'api_key', keyId: key.id, tenantId: key.tenantId, scopes: key.scopes },
    window,
  };
}
