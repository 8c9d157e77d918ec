import { randomUUID } from 'node:crypto';
import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { BEARER_SCHEME } from './auth/access';
import { authenticate } from './auth/authenticate';
import { inputGuard } from './input-guard';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { AppEnv, ApiDeps, RequestDeps } from './deps';
import { secretKeyIfSet } from '../common/secret-box';
import { apiReferenceRoutes } from './docs-page';
import { openApiDocument } from './openapi';
import { formatPath, HttpError, validationFailed } from './errors';
import { metricsHandler, metricsMiddleware } from './metrics';
import { apiMetrics } from '../common/metrics';
import { deadlineRoutes } from './routes/deadlines';
import { eventRoutes } from './routes/events';
import { groupRoutes } from './routes/groups';
import { healthRoutes } from './routes/health';
import { BULK_NOTIFICATIONS_PATH, notificationRoutes } from './routes/notifications';
import { preferenceRoutes } from './routes/preferences';
import { preferenceMatrixRoutes } from './routes/preference-matrix';
import { deliverySettingsRoutes } from './routes/delivery-settings';
import { recipientRoutes } from './routes/recipients';
import { scheduleRoutes } from './routes/schedules';
import { inboxRoutes } from './routes/inbox';
import { pushRoutes } from './routes/push';
import { ackLinkRoutes } from './routes/ack-link';
import { unsubscribeRoutes } from './routes/unsubscribe';
import { settingsRoutes } from './routes/settings';
import { smtpSettingsRoutes } from './routes/settings-smtp';
import { twilioSettingsRoutes } from './routes/settings-twilio';
import { brandSettingsRoutes } from './routes/settings-brand';
import { templateRoutes } from './routes/templates';
import { twilioRoutes } from './routes/twilio';
import { webhookRoutes } from './routes/webhooks';
import { eventEndpointRoutes } from './routes/event-endpoints';
import { apiKeyRoutes } from './routes/api-keys';
import { tenantRoutes } from './routes/tenants';
import { meRoutes } from './routes/me';
import { webAssetRoutes } from './routes/web-assets';
import { corsFor } from './cors';
import { explainRoutes } from './routes/explain';

const HTTP_EXCEPTION_CODES: Partial<Record<number, string>> = {
  400: 'bad_request',
  401: 'unauthorized',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

const invalidJson = (reason: string) =>
  new HttpError(400, 'invalid_json', 'request body is not valid JSON', [{ path: 'body', message: reason }]);

/** Builds the HTTP app over its dependencies; thin routes over the service layer. */
export function createApp(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>({
    // Every validation error, whichever route, has the same JSON shape naming the fields.
    defaultHook: (result) => {
      if (!result.success) {
        const details = result.error.issues.map((issue) => ({
          path: formatPath(issue.path as PropertyKey[]) || 'body',
          message: issue.message,
        }));
        throw validationFailed(details, 400);
      }
    },
  });

  // First, so it sees every request's final status; the API's own registry (see common/metrics.ts).
  const metrics = apiMetrics();
  app.use('*', metricsMiddleware(metrics));

  // Decoded once here, not on every request that seals, opens or signs.
  const requestDeps: RequestDeps = { ...deps, secretKey: secretKeyIfSet(deps.config) };
  app.use('*', async (c, next) => {
    c.set('deps', requestDeps);
    const requestId =
      c.req
        .header('x-request-id')
        ?.replace(/[^\w.-]/g, '')
        .slice(0, 64) || randomUUID();
    c.set('requestId', requestId);
    c.header('X-Request-Id', requestId);
    await next();
  });

  // Before anything reads the body: an anonymous caller learns nothing but 401.
  // Before authenticate: a browser's preflight carries no token (api/cors.ts).
  app.use('/v1/*', corsFor(deps.config.HERALD_CORS_ORIGINS));
  app.use('/v1/*', authenticate);

  const limitTo = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: () => {
        throw new HttpError(413, 'payload_too_large', `request body exceeds ${maxSize} bytes`, [
          { path: 'body', message: `larger than the limit of ${maxSize} bytes` },
        ]);
      },
    });
  const defaultLimit = limitTo(deps.config.BODY_LIMIT_BYTES);
  // The bulk trigger carries up to 1,000 notifications: its own limit, and only there.
  const bulkLimit = limitTo(deps.config.BULK_BODY_LIMIT_BYTES);
  app.use('/v1/*', (c, next) => (c.req.path === BULK_NOTIFICATIONS_PATH ? bulkLimit : defaultLimit)(c, next));
  // NULs anywhere and over-deep JSON → 400 before any route (api/input-guard.ts).
  app.use('/v1/*', inputGuard);

  app.onError((error, c) => {
    if (error instanceof HttpError) {
      for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
      return c.json(error.toJSON(), error.status);
    }
    // Hono's own (e.g. 415 from a route's media-type check) keep their status, in our error shape.
    if (error instanceof HTTPException) {
      const status = error.status as ContentfulStatusCode;
      if (status === 400 && /JSON/i.test(error.message))
        return c.json(invalidJson(error.message).toJSON(), 400);
      const code = HTTP_EXCEPTION_CODES[status] ?? 'http_error';
      const path = status === 415 ? 'Content-Type' : 'body';
      return c.json(
        new HttpError(status, code, error.message || code, [
          { path, message: error.message || code },
        ]).toJSON(),
        status,
      );
    }
    const pgCode = (error as { code?: string }).code;
    if (pgCode === '23505') {
      const conflict = new HttpError(409, 'conflict', 'a resource with these unique fields exists already', [
        { path: 'name', message: (error as { detail?: string }).detail ?? 'already taken' },
      ]);
      return c.json(conflict.toJSON(), 409);
    }
    if (error instanceof SyntaxError || /JSON/i.test(error.message)) {
      return c.json(invalidJson(error.message).toJSON(), 400);
    }
    console.error(
      JSON.stringify({
        msg: 'request failed',
        requestId: c.var.requestId,
        path: c.req.path,
        error: error.message,
      }),
    );
    return c.json(
      {
        error: { code: 'internal_error', message: 'internal error', details: [], requestId: c.var.requestId },
      },
      500,
    );
  });

  app.notFound((c) =>
    c.json(new HttpError(404, 'not_found', `no route ${c.req.method} ${c.req.path}`).toJSON(), 404),
  );

  const routes = app
    .route('/', healthRoutes)
    .route('/', notificationRoutes)
    .route('/', recipientRoutes)
    .route('/', groupRoutes)
    .route('/', preferenceRoutes)
    .route('/', preferenceMatrixRoutes)
    .route('/', deliverySettingsRoutes)
    .route('/', templateRoutes)
    .route('/', eventRoutes)
    .route('/', pushRoutes)
    .route('/', inboxRoutes)
    .route('/', meRoutes)
    .route('/', webAssetRoutes)
    .route('/', twilioRoutes)
    .route('/', webhookRoutes)
    .route('/', eventEndpointRoutes)
    .route('/', settingsRoutes)
    .route('/', smtpSettingsRoutes)
    .route('/', twilioSettingsRoutes)
    .route('/', brandSettingsRoutes)
    .route('/', ackLinkRoutes)
    .route('/', unsubscribeRoutes)
    .route('/', deadlineRoutes)
    .route('/', scheduleRoutes)
    .route('/', apiKeyRoutes)
    .route('/', tenantRoutes)
    .route('/', explainRoutes);

  app.openAPIRegistry.registerComponent('securitySchemes', BEARER_SCHEME, {
    type: 'http',
    scheme: 'bearer',
    description:
      'An API key (`hk_…`, from `herald tenants create`, `herald keys create` or `POST /v1/api-keys`), ' +
      "or on a person's own routes an end-user token (`heu_…`, from `POST /v1/recipients/{externalId}/tokens`). " +
      'Each operation names the scope it needs in `x-herald-scope`.',
  });
  // /openapi.json and the Scalar reference at /docs (api/docs-page.ts).
  app.route(
    '/',
    apiReferenceRoutes(() => openApiDocument(app)),
  );
  app.get('/', (c) => c.redirect('/docs'));
  // Operators only: the same bearer check as /v1, then the `operator` scope.
  app.get('/metrics', authenticate, metricsHandler(metrics));
  return routes;
}

export type AppType = ReturnType<typeof createApp>;
