import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import type { AppEnv } from './deps';

/**
 * Cross-origin access to /v1 for the web apps that embed <herald-inbox>: only origins named in
 * HERALD_CORS_ORIGINS get `Access-Control-Allow-Origin` (their own origin echoed, never `*`), and
 * every answer says `Vary: Origin` so a cache never hands one origin's answer to another.
 * Preflights (OPTIONS) are answered here with 204, before `authenticate`: a browser sends them
 * without the Authorization header. No cookies are used, so credentials are never allowed.
 */
export function corsFor(origins: readonly string[]): MiddlewareHandler<AppEnv> {
  const allowed = new Set(origins);
  return cors({
    origin: (origin) => (allowed.has(origin) ? origin : null),
    allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowHeaders: ['Authorization', 'Content-Type', 'Last-Event-ID'],
    exposeHeaders: ['Retry-After', 'X-Request-Id'],
    maxAge: 600,
  });
}
