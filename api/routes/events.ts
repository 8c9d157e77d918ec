import { OpenAPIHono, z } from '@hono/zod-openapi';
import { EventRoutingSchema } from '../../common/event-routing';
import { deleteEventRouting, getEventRouting, putEventRouting } from '../../db/queries/event-routing';
import { securedRoute } from '../auth/access';
import type { AppEnv } from '../deps';
import { notFound } from '../errors';
import { errorResponse, identifier, jsonBody, jsonResponse } from '../schemas';
import { listEvents, requireEvent } from '../services/event-routing';

const params = z.object({ event: identifier('event', 'invoice.processed') });

const RoutingInput = EventRoutingSchema.meta({
  id: 'EventRoutingInput',
  description:
    "An event's default audience: who a notification of it reaches when the request has no `to` " +
    '(or in addition to `to` with `includeDefaults: true`). At least one group or recipient, each once.',
  example: { groups: ['System Admins', 'Sales Team'], recipients: [] },
});

// Not a named component: a `$ref` cannot be nullable in OpenAPI 3.0, and `Event.routing` is null
// for most events, so the document inlines it there with `nullable: true`.
const RoutingSchema = z.object({
  event: z.string(),
  groups: z.array(z.string()),
  recipients: z.array(z.string()),
  updatedAt: z.string(),
});

const EventSchema = z
  .object({
    event: z.string(),
    category: z.string(),
    description: z.string(),
    routing: RoutingSchema.nullable().openapi({ description: 'null: the event has no default audience' }),
  })
  .openapi('Event');

const listRoute = securedRoute(
  { scope: 'read' },
  {
    method: 'get',
    path: '/v1/events',
    tags: ['events'],
    summary: 'Every event of the catalogue with its default audience',
    responses: { 200: jsonResponse(z.object({ items: z.array(EventSchema) }), 'The events, by name') },
  },
);

const getRoute = securedRoute(
  { scope: 'read' },
  {
    method: 'get',
    path: '/v1/events/{event}/routing',
    tags: ['events'],
    summary: "An event's default audience",
    request: { params },
    responses: {
      200: jsonResponse(RoutingSchema, 'The routing'),
      400: errorResponse('Malformed event name'),
      404: errorResponse('No such event, or it has no routing'),
    },
  },
);

const putRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'put',
    path: '/v1/events/{event}/routing',
    tags: ['events'],
    summary: "Set an event's default audience (whole)",
    description:
      'Groups are named by key or name, as in `to.groups`, and need not exist yet: a notification that ' +
      'reaches a missing group is refused (422) until it exists, and `herald doctor` lists them.',
    request: { params, body: jsonBody(RoutingInput, 'The groups and recipients') },
    responses: {
      200: jsonResponse(RoutingSchema, 'Replaced'),
      201: jsonResponse(RoutingSchema, 'Created'),
      400: errorResponse('Invalid routing (a malformed, repeated or missing entry)'),
      404: errorResponse('No such event'),
    },
  },
);

const deleteRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'delete',
    path: '/v1/events/{event}/routing',
    tags: ['events'],
    summary: "Remove an event's default audience (its notifications must name `to` again)",
    request: { params },
    responses: {
      204: { description: 'Removed' },
      400: errorResponse('Malformed event name'),
      404: errorResponse('No such event, or it has no routing'),
    },
  },
);

export const eventRoutes = new OpenAPIHono<AppEnv>()
  .openapi(listRoute, async (c) => c.json({ items: await listEvents(c.var.deps, c.var.tenantId) }, 200))
  .openapi(getRoute, async (c) => {
    const { event } = c.req.valid('param');
    await requireEvent(c.var.deps, c.var.tenantId, event);
    const routing = await getEventRouting(c.var.deps.db, c.var.tenantId, event);
    if (!routing) throw notFound(`routing of event ${event}`);
    return c.json(routing, 200);
  })
  .openapi(putRoute, async (c) => {
    const { event } = c.req.valid('param');
    await requireEvent(c.var.deps, c.var.tenantId, event);
    const { routing, created } = await putEventRouting(
      c.var.deps.db,
      c.var.tenantId,
      event,
      c.req.valid('json'),
    );
    return created ? c.json(routing, 201) : c.json(routing, 200);
  })
  .openapi(deleteRoute, async (c) => {
    const { event } = c.req.valid('param');
    await requireEvent(c.var.deps, c.var.tenantId, event);
    if (!(await deleteEventRouting(c.var.deps.db, c.var.tenantId, event)))
      throw notFound(`routing of event ${event}`);
    return c.body(null, 204);
  });
