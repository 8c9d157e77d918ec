import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Pool } from 'pg';
import { DEFAULT_TASK_QUEUE } from '../common/temporal';
import { DEFAULT_TENANT } from '../common/tenant';
import {
  importGroups,
  InvalidGroupsFileError,
  parseGroupsFile,
  type ImportCounts,
  type Problem,
} from '../db/import-groups';
import { migrate } from '../db/migrate';
import { createPool } from '../db/pool';
import { listGroups, type Group } from '../db/queries/groups';
import type { overdueWorkflow, OverdueWorkflowResult } from '../workflows/overdue';
import { doctorExitCode, formatChecks, runDoctor } from './doctor';
import { runSchedulesCli, SCHEDULES_USAGE } from './schedules';

const ROOT = path.resolve(__dirname, '..');
const DEV_ENV_FILE = path.join(ROOT, '.data', 'dev.env');
const DEMO_FILE = path.join(ROOT, 'db', 'seed', 'demo.yaml');

const USAGE = `Usage: herald <command> [options]

Commands:
  migrate                         apply pending database migrations
  groups import <file> [--prune]  create or update recipients and groups from a YAML or JSON file;
                                  --prune also removes members the file does not list
  groups list [--json]            list groups with their member counts
  seed                            import the demo people and groups (db/seed/demo.yaml)
  overdue [--dry-run]             run the overdue workflow once and list the items it notified about;
                                  --dry-run lists what it would send and sends nothing
  doctor [--test-email <address>] [--json]
                                  check the database, Temporal, channels, groups and templates;
                                  --test-email sends a real message through SMTP_URL
${SCHEDULES_USAGE}
  help                            show this text

DATABASE_URL selects the database; without it, herald uses the one npm run dev wrote to .data/dev.env.
Exit codes: 0 done, 1 failed (e.g. the database is unreachable), 2 bad command or input.`;

/** A failure with a message meant for the user and a chosen exit code. */
class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
    readonly showUsage = false,
  ) {
    super(message);
  }
}

const usageError = (message: string) => new CliError(message, 2, true);

interface Args {
  positionals: string[];
  flags: Set<string>;
}

function parseArgs(argv: string[]): Args {
  return {
    positionals: argv.filter((a) => !a.startsWith('-')),
    flags: new Set(argv.filter((a) => a.startsWith('-'))),
  };
}

/** Rejects flags the command does not know and extra or missing positional arguments. */
function expectArgs(args: Args, command: string, positionals: number, flags: string[] = []): void {
  const unknown = [...args.flags].find((f) => !flags.includes(f));
  if (unknown) throw usageError(`${command}: unknown option ${unknown}`);
  if (args.positionals.length !== positionals)
    throw usageError(`${command}: expected ${positionals} argument(s)`);
}

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
  const [command, ...rest] = args.positionals;
  if (command === undefined || command === 'help' || args.flags.has('--help') || args.flags.has('-h')) {
    console.log(USAGE);
    return;
  }
  const sub = { positionals: rest, flags: args.flags };
  switch (command) {
    case 'migrate':
      expectArgs(sub, 'migrate', 0);
      return withDatabase(runMigrate);
    case 'seed':
      expectArgs(sub, 'seed', 0);
      return importFile(DEMO_FILE, { prune: false });
    case 'groups':
      return runGroups(sub);
    case 'schedules':
      return runSchedulesCli(rest, sub.flags, { usageError, fail: (m, code = 1) => new CliError(m, code) });
    case 'overdue':
      expectArgs(sub, 'overdue', 0, ['--dry-run']);
      return runOverdue(sub.flags.has('--dry-run'));
    case 'doctor':
      return runDoctorCommand(sub);
    default:
      throw usageError(`unknown command "${command}"`);
  }
}

async function runGroups(args: Args): Promise<void> {
  const [action, ...rest] = args.positionals;
  const sub = { positionals: rest, flags: args.flags };
  switch (action) {
    case 'import':
      expectArgs(sub, 'groups import', 1, ['--prune']);
      return importFile(rest[0]!, { prune: sub.flags.has('--prune') });
    case 'list':
      expectArgs(sub, 'groups list', 0, ['--json']);
      return withDatabase((pool) => printGroups(pool, sub.flags.has('--json')));
    case undefined:
      throw usageError('groups: say import or list');
    default:
      throw usageError(`unknown command "groups ${action}"`);
  }
}

async function runDoctorCommand(args: Args): Promise<void> {
  const testEmail = args.flags.has('--test-email');
  expectArgs(args, 'doctor', testEmail ? 1 : 0, ['--test-email', '--json']);
  const env = { ...process.env, DATABASE_URL: process.env.DATABASE_URL || readDevEnvUrl() };
  const checks = await runDoctor(env, { testEmail: testEmail ? args.positionals[0] : undefined });
  const failed = doctorExitCode(checks) !== 0;
  if (args.flags.has('--json')) console.log(JSON.stringify({ ok: !failed, checks }, null, 2));
  else console.log(formatChecks(checks));
  if (failed) throw new CliError(`doctor: ${checks.filter((c) => c.status === 'fail').length} problem(s)`, 1);
}

/** Executes the overdue workflow on the worker's task queue (TEMPORAL_ADDRESS, HERALD_TASK_QUEUE) and prints its items. */
async function runOverdue(dryRun: boolean): Promise<void> {
  const address = process.env.TEMPORAL_ADDRESS || '127.0.0.1:7233';
  const connection = await Connection.connect({ address }).catch((error: unknown) => {
    throw new CliError(`cannot connect to Temporal at ${address}: ${describeError(error)}`, 1);
  });
  try {
    const client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE || 'default' });
    const result = await client.workflow.execute<typeof overdueWorkflow>('overdueWorkflow', {
      taskQueue: process.env.HERALD_TASK_QUEUE || DEFAULT_TASK_QUEUE,
      workflowId: `overdue-${dryRun ? 'dry-run-' : ''}${new Date().toISOString()}`,
      args: [{ dryRun }],
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
async function importFile(file: string, options: { prune: boolean }): Promise<void> {
  const parsed = parseGroupsFile(await readInput(file), path.basename(file));
  if (!parsed.ok) throw invalidFile(file, parsed.problems);
  const counts = await withDatabase((pool) =>
    importGroups(pool, DEFAULT_TENANT, parsed.value, options),
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

async function printGroups(pool: Pool, json: boolean): Promise<void> {
  const groups = await listGroups(pool, DEFAULT_TENANT);
  if (json) console.log(JSON.stringify(groups, null, 2));
  else if (groups.length === 0) console.log('no groups yet; add some with: herald groups import <file>');
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

/** Opens a small pool, proves it can connect (so that failure gets its own message), and always closes it. */
async function withDatabase<T>(work: (pool: Pool) => Promise<T>): Promise<T> {
  const url = databaseUrl();
  const pool = createPool(url, 2);
  try {
    await pool.query('SELECT 1').catch((error: unknown) => {
      throw new CliError(`cannot connect to the database at ${describeUrl(url)}: ${describeError(error)}`, 1);
    });
    return await work(pool);
  } finally {
    await pool.end();
  }
}

function databaseUrl(): string {
  const url = process.env.DATABASE_URL || readDevEnvUrl();
  if (!url)
    throw new CliError(
      'DATABASE_URL is not set (start the dev stack with npm run dev, or export DATABASE_URL)',
      2,
    );
  return url;
}

/** The URL the dev command wrote; lines look like `DATABASE_URL=postgres://…`, optionally quoted. */
function readDevEnvUrl(): string | undefined {
  let text: string;
  try {
    text = readFileSync(DEV_ENV_FILE, 'utf8');
  } catch {
    return undefined;
  }
  const value = /^\s*(?:export\s+)?DATABASE_URL=(.*)$/m.exec(text)?.[1]?.trim();
  return value?.replace(/^(['"])(.*)\1$/, '$2') || undefined;
}

/** Host, port and database only: the password must not reach a terminal or a CI log. */
function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return 'DATABASE_URL';
  }
}

/** One line: the message, its cause's, or (for a failed dual-stack connect) every attempt's. */
function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0)
    return error.errors.map(describeError).join('; ');
  if (!(error instanceof Error)) return String(error);
  const message = error.message.split('\n')[0] || error.name;
  return error.cause === undefined ? message : `${message}: ${describeError(error.cause)}`;
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
