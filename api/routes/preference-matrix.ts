import { OpenAPIHono, z } from '@hono/zod-openapi';
import {
  CATEGORY_PREFIX,
  resolveChannelDecision,
  type EventRule,
  type PreferencesDocument,
} from '../../common/preferences';
import { CHANNELS, type ChannelName } from '../../common/types';
import { loadPreferencesFor } from '../../db/queries/preferences';
import { getRecipient } from '../../db/queries/recipients';
import type { TemplateManifest } from '../../templates/manifest';
import { securedRoute } from '../auth/access';
import type { AppEnv } from '../deps';
import { notFound } from '../errors';
import { errorResponse, identifier, jsonResponse } from '../schemas';

/** The digest template is what digests are sent with, not an event anyone opts in or out of. */
const NOT_IN_MATRIX = new Set(['digest']);

const CellSchema = z.object({
  send: z.boolean(),
  reason: z.string().nullable().openapi({ description: 'Why not, in the words of the preference rules' }),
});

const MatrixEventSchema = z.object({
  event: z.string().openapi({ example: 'job.failed' }),
  description: z.string(),
  critical: z.boolean().openapi({
    description: 'Always delivered: the person cannot switch it off (`criticalReason` says why)',
  }),
  criticalReason: z.string().nullable(),
  channels: z.record(z.string(), CellSchema),
});

const PreferenceMatrixSchema = z
  .object({
    channels: z
      .array(z.enum(CHANNELS))
      .openapi({ description: 'The columns: channels some event is sent on' }),
    categories: z.array(
      z.object({
        category: z.string().openapi({ example: 'jobs' }),
        key: z.string().openapi({ example: 'category:jobs', description: 'Its key in preferences `events`' }),
        events: z.array(MatrixEventSchema),
      }),
    ),
  })
  .openapi('PreferenceMatrix');

const matrixRoute = securedRoute(
  { scope: 'read', endUser: true },
  {
    method: 'get',
    path: '/v1/recipients/{externalId}/preferences/matrix',
    tags: ['preferences'],
    summary: "Every event by category × channel, and whether this person's preferences send it",
    description:
      'For a normal-priority notification without data: the preference rules (the own document, then ' +
      "the groups' defaults) decide each cell; filters are left out, as they depend on each notification's data. " +
      'Critical events (priority critical, or a manifest with `unsubscribe: false` such as security alerts) ' +
      'are marked so, for a page to show them as not switchable.',
    request: { params: z.object({ externalId: identifier('externalId', 'tech-42') }) },
    responses: {
      200: jsonResponse(PreferenceMatrixSchema, 'The matrix'),
      404: errorResponse('No such recipient'),
    },
  },
);

/** Filters depend on each notification's data, which the matrix has none of. */
function withoutFilters(doc: PreferencesDocument): PreferencesDocument {
  if (!doc.events) return doc;
  const events: Record<string, EventRule> = {};
  for (const [key, { filters: _filters, ...rule }] of Object.entries(doc.events)) events[key] = rule;
  return { ...doc, events };
}

function criticalReason(manifest: TemplateManifest): string | null {
  if (manifest.defaultPriority === 'critical') return 'Critical alerts always reach you on every channel.';
  if (!manifest.unsubscribe) return 'Messages about your account’s security always reach you.';
  return null;
}

export const preferenceMatrixRoutes = new OpenAPIHono<AppEnv>().openapi(matrixRoute, async (c) => {
  const { externalId } = c.req.valid('param');
  const { db, templates: registry } = c.var.deps;
  if (!(await getRecipient(db, c.var.tenantId, externalId))) throw notFound(`recipient ${externalId}`);
  const templates = await registry.forTenant(db, c.var.tenantId);
  const loaded = (await loadPreferencesFor(db, c.var.tenantId, [externalId])).get(externalId);
  const own = loaded?.own ? withoutFilters(loaded.own) : null;
  const groups = (loaded?.groups ?? []).map(withoutFilters);

  const manifests = templates
    .events()
    .filter((event) => !NOT_IN_MATRIX.has(event))
    .flatMap((event) => {
      const manifest = templates.manifest(event);
      return manifest ? [manifest] : [];
    });
  const used = new Set(manifests.flatMap((m) => m.defaultChannels));
  const channels = CHANNELS.filter((channel) => used.has(channel));

  const byCategory = new Map<string, z.infer<typeof MatrixEventSchema>[]>();
  for (const manifest of manifests) {
    const cells = Object.fromEntries(
      channels.map((channel: ChannelName) => {
        const decision = resolveChannelDecision({
          own,
          groups,
          event: manifest.event,
          category: manifest.category,
          priority: 'normal',
          data: {},
          channel,
          address: null,
          unsubscribable: manifest.unsubscribe,
        });
        return [
          channel,
          decision.send ? { send: true, reason: null } : { send: false, reason: decision.reason },
        ];
      }),
    );
    const reason = criticalReason(manifest);
    const list = byCategory.get(manifest.category) ?? [];
    list.push({
      event: manifest.event,
      description: manifest.description,
      critical: reason !== null,
      criticalReason: reason,
      channels: cells,
    });
    byCategory.set(manifest.category, list);
  }
  const categories = [...byCategory.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([category, events]) => ({ category, key: `${CATEGORY_PREFIX}${category}`, events }));
  return c.json({ channels, categories }, 200);
});
