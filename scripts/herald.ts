import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Pool } from 'pg';
import { DEFAULT_TASK_QUEUE } from '../common/temporal';
import {
  importGroups,
  InvalidGroupsFileError,
  parseGroupsFile,
  type ImportCounts,
  type Problem,
} from '../db/import-groups';
import { migrate } from '../db/migrate';
import { listGroups, type Group } from '../db/queries/groups';
import type { overdueWorkflow, OverdueWorkflowResult } from '../workflows/overdue';
import { doctorExitCode, formatChecks, runDoctor } from './doctor';
import { ACCESS_USAGE, runKeys, runTenants } from './lib/access-commands';
import { ROUTING_USAGE, runRouting } from './lib/routing-commands';
import { EXPLAIN_USAGE, runExplain } from './lib/explain';
import {
  checkTenant,
  CliError,
  describeError,
  expectArgs,
  parseArgs,
  readDevEnvUrl,
  requireTenant,
  shift,
  usageError,
  withDatabase,
  type Args,
} from './lib/cli';
import { runSchedulesCli, SCHEDULES_USAGE } from './schedules';

const ROOT = path.resolve(__dirname, '..');
const DEMO_FILE = path.join(ROOT, 'db', 'seed', 'demo.yaml');

const USAGE = `Usage: herald <command> [options]

Commands:
  migrate                         apply pending database migrations
${ACCESS_USAGE}
  groups import <file> --tenant <id> [--prune]
                                  create or update recipients and groups from a YAML or JSON file;
                                  --prune also removes members the file does not list
  groups list --tenant <id> [--json]
                                  list a tenant's groups with their member counts
${ROUTING_USAGE}
${EXPLAIN_USAGE}
  seed --tenant <id>              import the demo people and groups (db/seed/demo.yaml) into a tenant
  overdue [--tenant <id>] [--dry-run]
                                  run the overdue workflow once (every tenant's items, or one tenant's)
                                  and list the items it notified about; --dry-run sends nothing
  doctor [--test-email <address>] [--json]
                                  check the database, Temporal, channels, tenants and keys, groups and
                                  templates; --test-email sends a real message through SMTP_URL
${SCHEDULES_USAGE}
  help                            show this text

Options take a value as "--tenant demo" or "--tenant=demo"; --json prints JSON for machines.
DATABASE_URL selects the database; without it, herald uses the one npm run dev wrote to .data/dev.env.
Exit codes: 0 done, 1 failed (e.g. the database is unreachable), 2 bad command or input.`;

/** Runs the command in `argv` and returns the process exit code; never throws. */
export async function main(argv: string[]): Promise<number> {
  try {
    await run(parseArgs(argv));
    return 0;
  } catch (error) {
    return report(error);
  }
}

async function run(args: Args): Promise<void> {
  const [command] = args.positionals;
  if (command === undefined || command === 'help' || args.flags.has('--help') || args.flags.has('-h')) {
    console.log(USAGE);
    return;
  }
  const sub = shift(args);
  switch (command) {
    case 'migrate':
      expectArgs(sub, 'migrate', 0);
      return withDatabase(runMigrate);
    case 'tenants':
      return runTenants(sub);
    case 'keys':
      return runKeys(sub);
    case 'seed':
      expectArgs(sub, 'seed', 0, ['--tenant']);
      return importFile('seed', DEMO_FILE, sub, { prune: false });
    case 'groups':
      return runGroups(sub);
    case 'routing':
      return runRouting(sub);
    case 'explain':
      return runExplain(sub);
    case 'schedules':
      // The schedules commands take flags only; a value option is unknown to them.
      return runSchedulesCli(sub.positionals, new Set([...sub.flags, ...sub.values.keys()]), {
        usageError,
        fail: (m, code = 1) => new CliError(m, code),
      });
    case 'overdue':
      expectArgs(sub, 'overdue', 0, ['--dry-run', '--tenant']);
      return runOverdue(sub);
    case 'doctor':
      return runDoctorCommand(sub);
    default:
      throw usageError(`unknown command "${command}"`);
  }
}

async function runGroups(args: Args): Promise<void> {
  const [action, file] = args.positionals;
  const sub = shift(args);
  switch (action) {
    case 'import':
      expectArgs(sub, 'groups import', 1, ['--prune', '--tenant']);
      return importFile('groups import', file!, sub, { prune: sub.flags.has('--prune') });
    case 'list':
      expectArgs(sub, 'groups list', 0, ['--json', '--tenant']);
      return withDatabase(async (pool) =>
        printGroups(pool, await requireTenant(pool, sub, 'groups list'), sub.flags.has('--json')),
      );
    case undefined:
      throw usageError('groups: say import or list');
    default:
      throw usageError(`unknown command "groups ${action}"`);
  }
}

async function runDoctorCommand(args: Args): Promise<void> {
  expectArgs(args, 'doctor', 0, ['--test-email', '--json']);
  const env = { ...process.env, DATABASE_URL: process.env.DATABASE_URL || readDevEnvUrl() };
  const checks = await runDoctor(env, { testEmail: args.values.get('--test-email') });
  const failed = doctorExitCode(checks) !== 0;
  if (args.flags.has('--json')) console.log(JSON.stringify({ ok: !failed, checks }, null, 2));
  else console.log(formatChecks(checks));
  if (failed) throw new CliError(`doctor: ${checks.filter((c) => c.status === 'fail').length} problem(s)`, 1);
}

/** Executes the overdue workflow on the worker's task queue (TEMPORAL_ADDRESS, HERALD_TASK_QUEUE) and prints its items. */
async function runOverdue(args: Args): Promise<void> {
  const dryRun = args.flags.has('--dry-run');
  const tenant = args.values.get('--tenant');
  if (tenant !== undefined) await withDatabase((pool) => checkTenant(pool, tenant));
  const address = process.env.TEMPORAL_ADDRESS || '127.0.0.1:7233';
  const connection = await Connection.connect({ address }).catch((error: unknown) => {
    throw new CliError(`cannot connect to Temporal at ${address}: ${describeError(error)}`, 1);
  });
  try {
    const client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE || 'default' });
    const result = await client.workflow.execute<typeof overdueWorkflow>('overdueWorkflow', {
      taskQueue: process.env.HERALD_TASK_QUEUE || DEFAULT_TASK_QUEUE,
      workflowId: `overdue-${dryRun ? 'dry-run-' : ''}${tenant ? `${tenant}-` : ''}${new Date().toISOString()}`,
      args: [{ dryRun, ...(tenant === undefined ? {} : { tenantId: tenant }) }],
    });
    console.log(formatOverdue(result));
  } finally {
    await connection.close();
  }
}

function formatOverdue(result: OverdueWorkflowResult): string {
  const n = result.items.length;
  const head = result.dryRun
    ? `dry run at ${result.now}: would notify about ${n} overdue item(s); nothing was sent`
    : `${result.now}: notified about ${n} overdue item(s)`;
  const rows = result.items.map((i) =>
    [i.key, i.event, i.dueAt, i.notificationId ?? (result.dryRun ? '' : '(closed meanwhile)')]
      .filter(Boolean)
      .join('  '),
  );
  return [head, ...rows].join('\n');
}

async function runMigrate(pool: Pool): Promise<void> {
  const { applied, alreadyApplied } = await migrate(pool);
  for (const name of alreadyApplied) console.log(`already applied  ${name}`);
  for (const name of applied) console.log(`applied          ${name}`);
  console.log(`migrations: ${applied.length} applied, ${alreadyApplied.length} already applied`);
}

/** `groups import` and `seed`: validate everything, then write everything or nothing. */
async function importFile(
  command: string,
  file: string,
  args: Args,
  options: { prune: boolean },
): Promise<void> {
  if (!args.values.has('--tenant')) throw usageError(`${command}: say which tenant with --tenant <id>`);
  const parsed = parseGroupsFile(await readInput(file), path.basename(file));
  if (!parsed.ok) throw invalidFile(file, parsed.problems);
  const counts = await withDatabase(async (pool) =>
    importGroups(pool, await requireTenant(pool, args, command), parsed.value, options),
  ).catch((error: unknown) => {
    throw error instanceof InvalidGroupsFileError ? invalidFile(file, error.problems) : error;
  });
  console.log(formatCounts(counts));
}

async function readInput(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message;
    throw new CliError(`cannot read ${file}: ${reason}`, 2);
  }
}

function invalidFile(file: string, problems: Problem[]): CliError {
  const lines = problems.map((p) => `${p.path}: ${p.message}`);
  return new CliError(
    [`${file}: ${problems.length} problem(s), nothing was imported`, ...lines].join('\n'),
    2,
  );
}

function formatCounts(c: ImportCounts): string {
  return (
    `groups: ${c.groups.created} created, ${c.groups.updated} updated; ` +
    `recipients: ${c.recipients.created} created, ${c.recipients.updated} updated; ` +
    `members: ${c.members.added} added, ${c.members.removed} removed`
  );
}

async function printGroups(pool: Pool, tenantId: string, json: boolean): Promise<void> {
  const groups = await listGroups(pool, tenantId);
  if (json) console.log(JSON.stringify(groups, null, 2));
  else if (groups.length === 0)
    console.log(`no groups yet; add some with: herald groups import <file> --tenant ${tenantId}`);
  else console.log(formatGroupTable(groups));
}

function formatGroupTable(groups: Group[]): string {
  const rows: [string, string, string][] = [
    ['KEY', 'NAME', 'MEMBERS'],
    ...groups.map((g): [string, string, string] => [g.key, g.name, String(g.memberCount)]),
  ];
  const keyWidth = Math.max(...rows.map(([key]) => key.length));
  const nameWidth = Math.max(...rows.map(([, name]) => name.length));
  return rows
    .map(
      ([key, name, members]) => `${key.padEnd(keyWidth)}  ${name.padEnd(nameWidth)}  ${members.padStart(7)}`,
    )
    .join('\n');
}

function report(error: unknown): number {
  if (error instanceof CliError) {
    console.error(`herald: ${error.message}`);
    if (error.showUsage) console.error(`\n${USAGE}`);
    return error.exitCode;
  }
  // 42P01 undefined_table: most likely a fresh database nobody has migrated yet.
  const hint = (error as { code?: unknown }).code === '42P01' ? ' (run herald migrate first?)' : '';
  console.error(`herald: ${describeError(error)}${hint}`);
  return 1;
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
