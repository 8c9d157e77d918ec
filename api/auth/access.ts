import { createRoute, type RouteConfig } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import type { Scope } from '../../common/api-keys';
import type { AppEnv } from '../deps';
import { HttpError, notFound } from '../errors';
import { errorResponse } from '../schemas';
import type { Principal } from './principal';

/** The OpenAPI security scheme every `/v1` route declares. */
export const BEARER_SCHEME = 'bearerAuth';

/** What a route needs, declared beside its OpenAPI definition so the docs and the check agree. */
export interface Access {
  scope: Scope;
  /**
   * The route's `{externalId}` is a person, and that person's end-user token may use it too
   * (their inbox, live stream, preferences and push subscriptions); on a route with no
   * `{externalId}` (the VAPID public key), every end-user token of the tenant.
   */
  endUser?: boolean;
}

export const forbidden = (message: string, path = 'scope') =>
  new HttpError(403, 'forbidden', message, [{ path, message }]);

export const missingScope = (scope: Scope) => forbidden(`this API key lacks the scope '${scope}'`);

/** Whether the caller's key carries `scope` (an end-user token carries none). */
export const hasScope = (principal: Principal | undefined, scope: Scope): boolean =>
  principal?.kind === 'api_key' && principal.scopes.includes(scope);

/** The check behind {@link securedRoute}; also sets the caller's tenant on the context. */
export function requireAccess(access: Access): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const principal = c.var.principal;
    if (!principal) throw new HttpError(401, 'unauthorized', 'this route needs an API key');
    if (principal.kind === 'end_user') {
      if (!access.endUser) throw forbidden('an end-user token cannot use this route', 'Authorization');
      // Another person's routes look exactly like ones that do not exist.
      const externalId = c.req.param('externalId');
      if (externalId !== undefined && externalId !== principal.recipientId)
        throw notFound(`recipient ${externalId}`);
    } else if (!principal.scopes.includes(access.scope)) {
      throw missingScope(access.scope);
    }
    if (access.scope !== 'operator') {
      if (principal.tenantId === null) throw missingScope(access.scope);
      c.set('tenantId', principal.tenantId);
    }
    await next();
  };
}

/** For checks that depend on the request (e.g. `critical` only for `priority: critical`). */
export function requireScope(c: Context<AppEnv>, scope: Scope): void {
  if (!hasScope(c.var.principal, scope)) throw missingScope(scope);
}

/**
 * `createRoute` for an authenticated route: declares the bearer scheme and the scope in the OpenAPI
 * document (`x-herald-scope`, and a line in the description) and enforces them before validation.
 */
export function securedRoute<const R extends RouteConfig>(access: Access, config: R) {
  const who = access.endUser ? ` (or that person's end-user token)` : '';
  const note = `Requires scope \`${access.scope}\`${who}.`;
  return createRoute({
    ...config,
    description: config.description ? `${config.description}\n\n${note}` : note,
    security: [{ [BEARER_SCHEME]: [] }],
    responses: {
      401: errorResponse('No key, or a malformed, unknown or revoked one'),
      403: errorResponse(`The key lacks the scope \`${access.scope}\``),
      429: errorResponse('Rate limit or daily quota reached (Retry-After says when to retry)'),
      ...config.responses,
    },
    'x-herald-scope': access.scope,
    ...(access.endUser ? { 'x-herald-end-user': true } : {}),
    middleware: requireAccess(access),
  });
}
