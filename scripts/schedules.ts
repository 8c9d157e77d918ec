import { createHash } from 'node:crypto';
import {
  Client,
  Connection,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type ScheduleDescription,
  type ScheduleOptionsStartWorkflowAction,
  type ScheduleSpec,
  type ScheduleSummary,
  type Workflow,
} from '@temporalio/client';
import {
  describeSpec,
  everyToMs,
  HERALD_SCHEDULE_PREFIX,
  InvalidSchedulesFileError,
  loadSchedulesFile,
  type DeclaredSchedule,
} from '../common/schedules';

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

export const SCHEDULES_USAGE = `  schedules sync                  create, update or delete Temporal Schedules to match config/schedules.yaml
                                  (HERALD_SCHEDULES_FILE overrides the file)
  schedules list [--json]         list Herald's schedules: spec, paused, next and recent runs
  schedules trigger|pause|unpause <id>
                                  start a run now, pause or unpause a schedule`;

interface CliErrors {
  /** Bad command line: exit 2 with usage. */
  usageError(message: string): Error;
  /** Failed: exit code 1 (or 2 for bad input). */
  fail(message: string, exitCode?: 1 | 2): Error;
}

/** Connects with TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE, runs `work`, and always closes the connection. */
export async function withTemporalClient<T>(
  env: NodeJS.ProcessEnv,
  errors: Pick<CliErrors, 'fail'>,
  work: (client: Client) => Promise<T>,
): Promise<T> {
  const address = env.TEMPORAL_ADDRESS || '127.0.0.1:7233';
  const connection = await Connection.connect({ address }).catch((error: unknown) => {
    throw errors.fail(`cannot connect to Temporal at ${address}: ${(error as Error).message}`);
  });
  try {
    return await work(new Client({ connection, namespace: env.TEMPORAL_NAMESPACE || 'default' }));
  } finally {
    await connection.close();
  }
}

/** `herald schedules …`: positionals after `schedules`, and the flags given. */
export async function runSchedulesCli(
  positionals: string[],
  flags: Set<string>,
  errors: CliErrors,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const [action, ...rest] = positionals;
  const allowFlags = (allowed: string[]) => {
    const unknown = [...flags].find((f) => !allowed.includes(f));
    if (unknown) throw errors.usageError(`schedules ${action}: unknown option ${unknown}`);
  };
  const expect = (n: number) => {
    if (rest.length !== n) throw errors.usageError(`schedules ${action}: expected ${n} argument(s)`);
  };
  switch (action) {
    case 'sync': {
      allowFlags([]);
      expect(0);
      let declared: DeclaredSchedule[];
      try {
        declared = loadSchedulesFile(env.HERALD_SCHEDULES_FILE || undefined);
      } catch (error) {
        if (error instanceof InvalidSchedulesFileError) throw errors.fail(error.message, 2);
        throw error;
      }
      const taskQueue = env.HERALD_TASK_QUEUE || 'herald';
      const result = await withTemporalClient(env, errors, (client) =>
        syncSchedules(client, taskQueue, declared),
      );
      console.log(formatSyncResult(result));
      return;
    }
    case 'list': {
      allowFlags(['--json']);
      expect(0);
      const schedules = await withTemporalClient(env, errors, (client) => listSchedules(client));
      if (flags.has('--json')) console.log(JSON.stringify(schedules, null, 2));
      else if (schedules.length === 0) console.log('no schedules; create them with: herald schedules sync');
      else console.log(formatScheduleTable(schedules));
      return;
    }
    case 'trigger':
    case 'pause':
    case 'unpause': {
      allowFlags([]);
      expect(1);
      const id = rest[0]!;
      const found = await withTemporalClient(env, errors, (client) => controlSchedule(client, id, action));
      if (!found) throw errors.fail(`no schedule ${id}`, 2);
      console.log(`${{ trigger: 'triggered', pause: 'paused', unpause: 'unpaused' }[action]} ${id}`);
      return;
    }
    case undefined:
      throw errors.usageError('schedules: say sync, list, trigger, pause or unpause');
    default:
      throw errors.usageError(`unknown command "schedules ${action}"`);
  }
}

export function formatSyncResult(r: SyncResult): string {
  const lines = [
    ...r.created.map((id) => `created    ${id}`),
    ...r.updated.map((id) => `updated    ${id}`),
    ...r.deleted.map((id) => `deleted    ${id}`),
    ...r.unchanged.map((id) => `unchanged  ${id}`),
  ];
  lines.push(
    `schedules: ${r.created.length} created, ${r.updated.length} updated, ` +
      `${r.deleted.length} deleted, ${r.unchanged.length} unchanged`,
  );
  return lines.join('\n');
}

function formatScheduleTable(schedules: ScheduleInfo[]): string {
  const rows = [
    ['ID', 'WORKFLOW', 'SPEC', 'STATE', 'NEXT'],
    ...schedules.map((s) => [
      s.id,
      s.workflowType ?? '',
      s.spec ?? '',
      s.paused ? 'paused' : 'active',
      s.nextActionTimes[0] ?? '',
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * For process start (worker/main.ts): with HERALD_SYNC_SCHEDULES=true, syncs the schedules file
 * (HERALD_SCHEDULES_FILE or config/schedules.yaml) onto HERALD_TASK_QUEUE; otherwise does nothing.
 */
export async function syncSchedulesFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<SyncResult | null> {
  if (env.HERALD_SYNC_SCHEDULES !== 'true') return null;
  const declared = loadSchedulesFile(env.HERALD_SCHEDULES_FILE || undefined);
  return withTemporalClient(env, { fail: (message) => new Error(message) }, (client) =>
    syncSchedules(client, env.HERALD_TASK_QUEUE || 'herald', declared),
  );
}
