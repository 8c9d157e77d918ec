import { OpenAPIHono, z } from '@hono/zod-openapi';
import {
  CATEGORY_PREFIX,
  GroupPreferencesSchema,
  PreferencesSchema,
  type PreferencesDocument,
} from '../../common/preferences';
import {
  deleteGroupPreferences,
  getGroupPreferences,
  getPreferences,
  putGroupPreferences,
  putPreferences,
} from '../../db/queries/preferences';
import type { TemplateRegistry } from '../../templates/registry';
import { securedRoute } from '../auth/access';
import type { AppEnv } from '../deps';
import { formatPath, notFound, validationFailed, type ErrorDetail } from '../errors';
import { errorResponse, groupKeyParam, identifier, jsonBody, jsonResponse } from '../schemas';

// `.meta`, not `.openapi`: these schemas are built in common/ by plain zod, perhaps before
// @hono/zod-openapi has extended it; the OpenAPI generator reads both.
const Preferences = PreferencesSchema.meta({
  id: 'Preferences',
  description:
    'Channel switches, rules per event key or `category:<name>` (enabled, channels, filters), an email ' +
    'override, and `unsubscribed.email`: the categories unsubscribed from on email (what the one-click links in ' +
    'messages write; remove one here to resubscribe). The resolution order is in the README.',
  example: {
    channels: { sms: false },
    events: {
      'category:jobs': { enabled: false },
      'job.failed': { enabled: true, filters: { jobType: ['backup', 'sync'] } },
    },
    emailOverride: 'alerts@example.com',
  },
});
const GroupPreferences = GroupPreferencesSchema.meta({
  id: 'GroupPreferences',
  description: "Defaults for a group's members: the preferences document without `emailOverride`.",
  example: { events: { 'job.failed': { enabled: true }, 'backup.failed': { enabled: true } } },
});

const recipientParams = z.object({ externalId: identifier('externalId', 'tech-42') });
const groupParams = z.object({ key: groupKeyParam() });

const unknownKeysResponse = errorResponse('An events key names no known event or category');

const getRoute = securedRoute(
  { scope: 'read', endUser: true },
  {
    method: 'get',
    path: '/v1/recipients/{externalId}/preferences',
    tags: ['preferences'],
    summary: "A recipient's preferences ({} when none are set)",
    request: { params: recipientParams },
    responses: { 200: jsonResponse(Preferences, 'The preferences'), 404: errorResponse('No such recipient') },
  },
);

const putRoute = securedRoute(
  { scope: 'manage', endUser: true },
  {
    method: 'put',
    path: '/v1/recipients/{externalId}/preferences',
    tags: ['preferences'],
    summary: "Replace a recipient's preferences",
    request: { params: recipientParams, body: jsonBody(Preferences, 'The whole preferences document') },
    responses: {
      200: jsonResponse(Preferences, 'Stored'),
      400: errorResponse('Invalid document'),
      404: errorResponse('No such recipient'),
      422: unknownKeysResponse,
    },
  },
);

const getGroupRoute = securedRoute(
  { scope: 'read' },
  {
    method: 'get',
    path: '/v1/groups/{key}/preferences',
    tags: ['preferences'],
    summary: "A group's default preferences for its members ({} when none are set)",
    request: { params: groupParams },
    responses: { 200: jsonResponse(GroupPreferences, 'The defaults'), 404: errorResponse('No such group') },
  },
);

const putGroupRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'put',
    path: '/v1/groups/{key}/preferences',
    tags: ['preferences'],
    summary: "Replace a group's default preferences",
    request: { params: groupParams, body: jsonBody(GroupPreferences, 'The whole defaults document') },
    responses: {
      200: jsonResponse(GroupPreferences, 'Stored'),
      400: errorResponse('Invalid document'),
      404: errorResponse('No such group'),
      422: unknownKeysResponse,
    },
  },
);

const deleteGroupRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'delete',
    path: '/v1/groups/{key}/preferences',
    tags: ['preferences'],
    summary: "Remove a group's default preferences",
    request: { params: groupParams },
    responses: { 204: { description: 'Removed (or there were none)' }, 404: errorResponse('No such group') },
  },
);

/** What the schema cannot check: every `events` key names a template's event or category. */
function checkEventKeys(templates: TemplateRegistry, document: PreferencesDocument): void {
  const events = templates.events();
  const categories = new Set(events.map((event) => templates.manifest(event)?.category));
  const problems: ErrorDetail[] = [];
  for (const key of Object.keys(document.events ?? {})) {
    const path = formatPath(['events', key]);
    if (key.startsWith(CATEGORY_PREFIX)) {
      const category = key.slice(CATEGORY_PREFIX.length);
      if (!categories.has(category)) {
        const known = [...categories].sort().join(', ');
        problems.push({ path, message: `unknown category '${category}'; known categories: ${known}` });
      }
    } else if (!templates.has(key)) {
      problems.push({
        path,
        message: `unknown event (no template); write '${CATEGORY_PREFIX}<name>' for a category; known events: ${events.join(', ')}`,
      });
    }
  }
  if (problems.length > 0) throw validationFailed(problems);
}

export const preferenceRoutes = new OpenAPIHono<AppEnv>()
  .openapi(getRoute, async (c) => {
    const { externalId } = c.req.valid('param');
    const document = await getPreferences(c.var.deps.db, c.var.tenantId, externalId);
    if (!document) throw notFound(`recipient ${externalId}`);
    return c.json(document, 200);
  })
  .openapi(putRoute, async (c) => {
    const { externalId } = c.req.valid('param');
    const input = c.req.valid('json');
    checkEventKeys(await c.var.deps.templates.forTenant(c.var.deps.db, c.var.tenantId), input);
    const document = await putPreferences(c.var.deps.db, c.var.tenantId, externalId, input);
    if (!document) throw notFound(`recipient ${externalId}`);
    return c.json(document, 200);
  })
  .openapi(getGroupRoute, async (c) => {
    const { key } = c.req.valid('param');
    const document = await getGroupPreferences(c.var.deps.db, c.var.tenantId, key);
    if (!document) throw notFound(`group ${key}`);
    return c.json(document, 200);
  })
  .openapi(putGroupRoute, async (c) => {
    const { key } = c.req.valid('param');
    const input = c.req.valid('json');
    checkEventKeys(await c.var.deps.templates.forTenant(c.var.deps.db, c.var.tenantId), input);
    const document = await putGroupPreferences(c.var.deps.db, c.var.tenantId, key, input);
    if (!document) throw notFound(`group ${key}`);
    return c.json(document, 200);
  })
  .openapi(deleteGroupRoute, async (c) => {
    const { key } = c.req.valid('param');
    if (!(await deleteGroupPreferences(c.var.deps.db, c.var.tenantId, key))) throw notFound(`group ${key}`);
    return c.body(null, 204);
  });
