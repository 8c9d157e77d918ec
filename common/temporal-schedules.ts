/**
 * Herald's Temporal Schedules (digests, overdue sweeps) as the API, the worker and the CLI manage
 * them: sync from config/schedules.yaml, list, describe, trigger, pause. Commands and flags live in
 * scripts/schedules.ts; nothing here reads the environment.
 */
import { createHash } from 'node:crypto';
import {
  Client,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type ScheduleDescription,
  type ScheduleOptionsStartWorkflowAction,
  type ScheduleSpec,
  type ScheduleSummary,
  type Workflow,
} from '@temporalio/client';
import { describeSpec, everyToMs, HERALD_SCHEDULE_PREFIX, type DeclaredSchedule } from './schedules';

/** Memo keys on each run's workflow, carrying what sync needs to tell whether a schedule changed. */
const MEMO_HASH = 'heraldScheduleHash';
const MEMO_SPEC = 'heraldScheduleSpec';

export interface SyncResult {
  created: string[];
  updated: string[];
  deleted: string[];
  unchanged: string[];
}

export interface ScheduleInfo {
  id: string;
  workflowType: string | null;
  spec: string | null;
  paused: boolean;
  nextActionTimes: string[];
  recentActions: { scheduledAt: string; takenAt: string; workflowId: string }[];
}

const fingerprint = (s: DeclaredSchedule, taskQueue: string): string =>
  createHash('sha256')
    .update(JSON.stringify([s.workflowType, s.args, s.spec, s.paused, taskQueue]))
    .digest('hex')
    .slice(0, 16);

function toSpec(s: DeclaredSchedule): ScheduleSpec {
  const spec: ScheduleSpec = s.spec.every
    ? { intervals: [{ every: everyToMs(s.spec.every) }] }
    : { cronExpressions: [s.spec.cron!] };
  if (s.spec.timezone) spec.timezone = s.spec.timezone;
  return spec;
}

function toAction(s: DeclaredSchedule, taskQueue: string): ScheduleOptionsStartWorkflowAction<Workflow> {
  return {
    type: 'startWorkflow',
    workflowType: s.workflowType,
    // Temporal appends the scheduled time to this id for each run.
    workflowId: s.id,
    taskQueue,
    args: s.args,
    memo: { [MEMO_HASH]: fingerprint(s, taskQueue), [MEMO_SPEC]: describeSpec(s.spec) },
  };
}

async function describeOrNull(client: Client, id: string): Promise<ScheduleDescription | null> {
  try {
    return await client.schedule.getHandle(id).describe();
  } catch (error) {
    if (error instanceof ScheduleNotFoundError) return null;
    throw error;
  }
}

/** Ids of every schedule in the namespace whose id starts with `prefix`. */
export async function listScheduleIds(client: Client, prefix = HERALD_SCHEDULE_PREFIX): Promise<string[]> {
  const ids: string[] = [];
  for await (const s of client.schedule.list()) if (s.scheduleId.startsWith(prefix)) ids.push(s.scheduleId);
  return ids.sort();
}

/**
 * Makes the namespace hold exactly the declared Herald schedules: creates missing ones, updates
 * changed ones, deletes `herald-` schedules no longer declared (within `ownedPrefix`), and leaves
 * every other schedule alone. Idempotent: a second run reports everything unchanged.
 */
export async function syncSchedules(
  client: Client,
  taskQueue: string,
  declared: DeclaredSchedule[],
  options: { ownedPrefix?: string } = {},
): Promise<SyncResult> {
  const ownedPrefix = options.ownedPrefix ?? HERALD_SCHEDULE_PREFIX;
  if (!ownedPrefix.startsWith(HERALD_SCHEDULE_PREFIX))
    throw new Error(`ownedPrefix must start with ${HERALD_SCHEDULE_PREFIX}`);
  const result: SyncResult = { created: [], updated: [], deleted: [], unchanged: [] };
  const declaredIds = new Set(declared.map((s) => s.id));

  for (const s of declared) {
    // describe, not list: list is eventually consistent, describe sees a schedule just created.
    const existing = await describeOrNull(client, s.id);
    const action = toAction(s, taskQueue);
    const policies = { overlap: ScheduleOverlapPolicy.SKIP };
    if (!existing) {
      await client.schedule.create({
        scheduleId: s.id,
        spec: toSpec(s),
        action,
        policies,
        state: { paused: s.paused },
      });
      result.created.push(s.id);
      continue;
    }
    const hash = existing.action.memo?.[MEMO_HASH];
    if (hash === fingerprint(s, taskQueue)) {
      result.unchanged.push(s.id);
      continue;
    }
    await client.schedule.getHandle(s.id).update(() => ({
      spec: toSpec(s),
      action,
      policies,
      state: { paused: s.paused },
    }));
    result.updated.push(s.id);
  }

  for (const id of await listScheduleIds(client, ownedPrefix)) {
    if (declaredIds.has(id)) continue;
    try {
      await client.schedule.getHandle(id).delete();
      result.deleted.push(id);
    } catch (error) {
      // Already gone: the listing is eventually consistent.
      if (!(error instanceof ScheduleNotFoundError)) throw error;
    }
  }
  return result;
}

const iso = (d: Date) => d.toISOString();

function info(id: string, d: ScheduleDescription | ScheduleSummary): ScheduleInfo {
  const spec = d.action && 'memo' in d.action ? d.action.memo?.[MEMO_SPEC] : undefined;
  return {
    id,
    workflowType: d.action?.workflowType ?? null,
    spec: typeof spec === 'string' ? spec : summarizeSpec(d.spec),
    paused: d.state.paused,
    nextActionTimes: d.info.nextActionTimes.map(iso),
    recentActions: d.info.recentActions.map((a) => ({
      scheduledAt: iso(a.scheduledAt),
      takenAt: iso(a.takenAt),
      workflowId: a.action.workflow.workflowId,
    })),
  };
}

function summarizeSpec(spec: ScheduleSummary['spec']): string | null {
  if (!spec) return null;
  const parts = [
    ...(spec.intervals ?? []).map((i) => `every ${String(i.every)}ms`),
    ...(spec.calendars ?? []).map(() => 'calendar'),
  ];
  return parts.join(', ') || null;
}

/** Herald's schedules (ids with `prefix`), described. */
export async function listSchedules(
  client: Client,
  prefix = HERALD_SCHEDULE_PREFIX,
): Promise<ScheduleInfo[]> {
  const out: ScheduleInfo[] = [];
  for (const id of await listScheduleIds(client, prefix)) {
    const d = await describeOrNull(client, id);
    if (d) out.push(info(id, d));
  }
  return out;
}

/** One schedule, or null when there is none with this id. */
export async function getSchedule(client: Client, id: string): Promise<ScheduleInfo | null> {
  const d = await describeOrNull(client, id);
  return d ? info(id, d) : null;
}

export type ScheduleCommand = 'trigger' | 'pause' | 'unpause';

/** Triggers, pauses or unpauses a schedule; false when there is no such schedule. */
export async function controlSchedule(
  client: Client,
  id: string,
  command: ScheduleCommand,
): Promise<boolean> {
  if (!(await describeOrNull(client, id))) return false;
  const handle = client.schedule.getHandle(id);
  try {
    // SKIP: a trigger while a run is still going starts no second one.
    if (command === 'trigger') await handle.trigger(ScheduleOverlapPolicy.SKIP);
    else if (command === 'pause') await handle.pause('paused through Herald');
    else await handle.unpause('unpaused through Herald');
    return true;
  } catch (error) {
    if (error instanceof ScheduleNotFoundError) return false;
    throw error;
  }
}
