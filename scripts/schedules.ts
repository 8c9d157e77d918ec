/** `herald schedules …`: the CLI over common/temporal-schedules.ts. */
import { Client, Connection } from '@temporalio/client';
import { InvalidSchedulesFileError, loadSchedulesFile, type DeclaredSchedule } from '../common/schedules';
import {
  controlSchedule,
  listSchedules,
  syncSchedules,
  type ScheduleInfo,
  type SyncResult,
} from '../common/temporal-schedules';
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
