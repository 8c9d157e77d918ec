import { OpenAPIHono, z } from '@hono/zod-openapi';
import { CATEGORY_PREFIX } from '../../common/preferences';
import { getDeliverySettings, updateDeliverySettings } from '../../db/queries/delivery-settings';
import { securedRoute } from '../auth/access';
import type { AppEnv } from '../deps';
import { formatPath, notFound, validationFailed, type ErrorDetail } from '../errors';
import { errorResponse, identifier, jsonBody, jsonResponse, RecipientInputSchema } from '../schemas';

/**
 * What a person may change about themselves with their own token (the notification center):
 * time zone, quiet hours and digest. The rest of the recipient (addresses, failover) stays the
 * backend's, through `PUT /v1/recipients/{externalId}`.
 */
const fields = RecipientInputSchema.pick({ timezone: true, quietHours: true, digest: true }).shape;

const DeliverySettingsInputSchema = z
  .object(fields)
  .strict()
  .openapi('DeliverySettingsInput', {
    description: 'Only the fields given change; null clears one',
    example: { timezone: 'Africa/Harare', quietHours: { start: '22:00', end: '07:00' } },
  });

const DeliverySettingsSchema = z
  .object({
    timezone: z.string().nullable(),
    quietHours: z.object({ start: z.string(), end: z.string() }).nullable(),
    digest: z
      .object({
        events: z.array(z.string()),
        frequency: z.enum(['hourly', 'daily', 'weekly']),
        hour: z.number().int().optional(),
        weekday: z.number().int().optional(),
      })
      .nullable(),
  })
  .openapi('DeliverySettings');

const params = z.object({ externalId: identifier('externalId', 'tech-42') });

const getRoute = securedRoute(
  { scope: 'read', endUser: true },
  {
    method: 'get',
    path: '/v1/recipients/{externalId}/delivery-settings',
    tags: ['preferences'],
    summary: "A recipient's time zone, quiet hours and digest",
    request: { params },
    responses: {
      200: jsonResponse(DeliverySettingsSchema, 'The settings'),
      404: errorResponse('No such recipient'),
    },
  },
);

const patchRoute = securedRoute(
  { scope: 'manage', endUser: true },
  {
    method: 'patch',
    path: '/v1/recipients/{externalId}/delivery-settings',
    tags: ['preferences'],
    summary: "Change a recipient's time zone, quiet hours or digest (the fields given only)",
    request: { params, body: jsonBody(DeliverySettingsInputSchema, 'The fields to change') },
    responses: {
      200: jsonResponse(DeliverySettingsSchema, 'The settings now'),
      400: errorResponse('Invalid field (e.g. not HH:MM, not an IANA time zone)'),
      404: errorResponse('No such recipient'),
      422: errorResponse('A digest event names no known event or category'),
    },
  },
);

type Settings = z.infer<typeof DeliverySettingsSchema>;
const toSettings = (value: {
  timezone: string | null;
  quietHours: Settings['quietHours'];
  digest: unknown;
}) => ({ ...value, digest: (value.digest ?? null) as Settings['digest'] }) satisfies Settings;

export const deliverySettingsRoutes = new OpenAPIHono<AppEnv>()
  .openapi(getRoute, async (c) => {
    const { externalId } = c.req.valid('param');
    const settings = await getDeliverySettings(c.var.deps.db, c.var.tenantId, externalId);
    if (!settings) throw notFound(`recipient ${externalId}`);
    return c.json(toSettings(settings), 200);
  })
  .openapi(patchRoute, async (c) => {
    const { externalId } = c.req.valid('param');
    const change = c.req.valid('json');
    if (change.digest) {
      // A digest of an event that does not exist would silently hold nothing: say so instead.
      const templates = await c.var.deps.templates.forTenant(c.var.deps.db, c.var.tenantId);
      const events = templates.events();
      const categories = new Set(events.map((event) => templates.manifest(event)?.category));
      const problems: ErrorDetail[] = change.digest.events.flatMap((key, index) => {
        const known = key.startsWith(CATEGORY_PREFIX)
          ? categories.has(key.slice(CATEGORY_PREFIX.length))
          : templates.has(key);
        const path = formatPath(['digest', 'events', index]);
        return known ? [] : [{ path, message: `'${key}' is no known event or ${CATEGORY_PREFIX}<category>` }];
      });
      if (problems.length > 0) throw validationFailed(problems);
    }
    const settings = await updateDeliverySettings(c.var.deps.db, c.var.tenantId, externalId, change);
    if (!settings) throw notFound(`recipient ${externalId}`);
    return c.json(toSettings(settings), 200);
  });
