import { OpenAPIHono, z } from '@hono/zod-openapi';
import {
  controlSchedule,
  getSchedule,
  listSchedules,
  type ScheduleCommand,
} from '../../common/temporal-schedules';
import { securedRoute } from '../auth/access';
import { HERALD_SCHEDULE_PREFIX } from '../../common/schedules';
import type { AppEnv } from '../deps';
import { notFound } from '../errors';
import { errorResponse, jsonResponse } from '../schemas';

const ScheduleSchema = z
  .object({
    id: z.string().openapi({ example: 'herald-digest' }),
    workflowType: z.string().nullable().openapi({ example: 'digestWorkflow' }),
    spec: z.string().nullable().openapi({ example: 'every 15m' }),
    paused: z.boolean(),
    nextActionTimes: z.array(z.string()),
    recentActions: z.array(
      z.object({ scheduledAt: z.string(), takenAt: z.string(), workflowId: z.string() }),
    ),
  })
  .openapi('Schedule');

const params = z.object({
  id: z
    .string()
    .min(1)
    .max(255)
    // Only Herald's own schedules: the namespace may hold others that are none of the API's business.
    .startsWith(HERALD_SCHEDULE_PREFIX, `must start with ${HERALD_SCHEDULE_PREFIX}`)
    .openapi({ param: { name: 'id', in: 'path' }, example: 'herald-digest' }),
});

const listRoute = securedRoute(
  { scope: 'operator' },
  {
    method: 'get',
    path: '/v1/schedules',
    tags: ['schedules'],
    summary: "List Herald's Temporal Schedules (ids starting with herald-)",
    responses: { 200: jsonResponse(z.object({ items: z.array(ScheduleSchema) }), 'The schedules') },
  },
);

const commandRoute = (command: ScheduleCommand, summary: string) =>
  securedRoute(
    { scope: 'operator' },
    {
      method: 'post',
      path: `/v1/schedules/{id}/${command}`,
      tags: ['schedules'],
      summary,
      request: { params },
      responses: {
        200: jsonResponse(ScheduleSchema, 'The schedule afterwards'),
        400: errorResponse('An id outside the herald- prefix'),
        404: errorResponse('No such schedule'),
      },
    },
  );

const triggerRoute = commandRoute('trigger', 'Start a run of the schedule now');
const pauseRoute = commandRoute('pause', 'Pause the schedule');
const unpauseRoute = commandRoute('unpause', 'Unpause the schedule');

async function run(deps: AppEnv['Variables']['deps'], id: string, command: ScheduleCommand) {
  if (!(await controlSchedule(deps.temporal, id, command))) throw notFound(`schedule ${id}`);
  const schedule = await getSchedule(deps.temporal, id);
  if (!schedule) throw notFound(`schedule ${id}`);
  return schedule;
}

export const scheduleRoutes = new OpenAPIHono<AppEnv>()
  .openapi(listRoute, async (c) => c.json({ items: await listSchedules(c.var.deps.temporal) }, 200))
  .openapi(triggerRoute, async (c) => c.json(await run(c.var.deps, c.req.valid('param').id, 'trigger'), 200))
  .openapi(pauseRoute, async (c) => c.json(await run(c.var.deps, c.req.valid('param').id, 'pause'), 200))
  .openapi(unpauseRoute, async (c) => c.json(await run(c.var.deps, c.req.valid('param').id, 'unpause'), 200));
