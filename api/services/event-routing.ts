import type { EventRouting } from '../../common/event-routing';
import type { Audience } from '../../common/types';
import { getEventRouting, listEventRoutings, type StoredEventRouting } from '../../db/queries/event-routing';
import type { ApiDeps } from '../deps';
import { notFound } from '../errors';

/** An event of the tenant's catalogue, with its default audience (null: none). */
export interface EventView {
  event: string;
  category: string;
  description: string;
  routing: StoredEventRouting | null;
}

/** Whether the tenant's catalogue has the event: the same lookup the notifications service makes. */
const inCatalogue = async (deps: ApiDeps, tenantId: string, event: string): Promise<boolean> =>
  (await deps.templates.forTenant(deps.db, tenantId)).has(event);

/** 404 for an event the catalogue does not have, so routing is never set for a typo. */
export async function requireEvent(deps: ApiDeps, tenantId: string, event: string): Promise<void> {
  if (!(await inCatalogue(deps, tenantId, event)))
    throw notFound(`event ${event} (GET /v1/events lists the events)`);
}

/** Every event of the catalogue with its routing; routings of events no longer there are left out. */
export async function listEvents(deps: ApiDeps, tenantId: string): Promise<EventView[]> {
  const routings = new Map((await listEventRoutings(deps.db, tenantId)).map((r) => [r.event, r]));
  const templates = await deps.templates.forTenant(deps.db, tenantId);
  return templates.events().map((event) => {
    const manifest = templates.manifest(event)!;
    return {
      event,
      category: manifest.category,
      description: manifest.description,
      routing: routings.get(event) ?? null,
    };
  });
}

/**
 * The routing a notification takes its audience from: with no `to`, or with `includeDefaults`.
 * Null when the request names its own audience only, or when the event has no routing.
 */
export async function defaultAudienceOf(
  deps: ApiDeps,
  tenantId: string,
  request: { event: string; to?: Audience; includeDefaults?: boolean },
): Promise<EventRouting | null> {
  if (request.to && !request.includeDefaults) return null;
  const routing = await getEventRouting(deps.db, tenantId, request.event);
  return routing && { groups: routing.groups, recipients: routing.recipients };
}
