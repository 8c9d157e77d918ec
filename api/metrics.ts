import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import { METRICS_CONTENT_TYPE, type ApiMetrics } from '../common/metrics';
import { hasScope, missingScope } from './auth/access';
import type { AppEnv } from './deps';

/** The label for requests no route matched: one series for every unknown path. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * The route pattern that answered (`/v1/notifications/:id`), never the raw path, which would make one
 * series per id. Middleware (`use`, method ALL) answering means no route matched, or a middleware
 * refused the request before any route ran.
 */
function routeLabel(c: Context): string {
  const route = matchedRoutes(c)[c.req.routeIndex];
  if (!route || (route.method === 'ALL' && c.res.status === 404)) return UNMATCHED_ROUTE;
  return route.path;
}

/** Counts and times every request; mount first so it sees the final status, errors included. */
export function metricsMiddleware(metrics: ApiMetrics): MiddlewareHandler {
  return async (c, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const route = routeLabel(c);
      const method = c.req.method;
      metrics.httpRequests.inc({ method, route, status: String(c.res.status) });
      metrics.httpDuration.observe({ method, route }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  };
}

/**
 * GET /metrics: the registry in Prometheus text format, for an operator key only (mount after
 * `authenticate`, which answers 401 without a key). Route names, volumes and error rates are the
 * operator's business, not a tenant's.
 */
export function metricsHandler(metrics: ApiMetrics): (c: Context<AppEnv>) => Promise<Response> {
  return async (c) => {
    if (!hasScope(c.var.principal, 'operator')) throw missingScope('operator');
    const body = await metrics.registry.metrics();
    return c.body(body, 200, { 'content-type': METRICS_CONTENT_TYPE });
  };
}
