/** What every `herald` command shares: argument parsing, errors with exit codes, the database. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Pool } from 'pg';
import { createPool } from '../../db/pool';
import { getTenant } from '../../db/queries/tenants';

const ROOT = path.resolve(__dirname, '..', '..');
const DEV_ENV_FILE = path.join(process.env.HERALD_DATA_DIR ?? path.join(ROOT, '.data'), 'dev.env');

/** A failure with a message meant for the user and a chosen exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
    readonly showUsage = false,
  ) {
    super(message);
  }
}

/** Bad command line: exit 2 with the usage. */
export const usageError = (message: string) => new CliError(message, 2, true);
/** Bad input the usage would not explain (an unknown tenant, an invalid id): exit 2. */
export const inputError = (message: string) => new CliError(message, 2);

/** Options that take a value (`--tenant demo` or `--tenant=demo`); every other option is a flag. */
const VALUE_OPTIONS = ['--tenant', '--name', '--scopes', '--test-email'] as const;
export type ValueOption = (typeof VALUE_OPTIONS)[number];

export interface Args {
  positionals: string[];
  flags: Set<string>;
  values: Map<ValueOption, string>;
}

const isValueOption = (name: string): name is ValueOption =>
  (VALUE_OPTIONS as readonly string[]).includes(name);

export function parseArgs(argv: string[]): Args {
  const args: Args = { positionals: [], flags: new Set(), values: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-')) {
      args.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (!isValueOption(name)) {
      args.flags.add(arg);
      continue;
    }
    let value = eq > 0 ? arg.slice(eq + 1) : argv[i + 1];
    // `--tenant --json` is a forgotten value, not a tenant called "--json".
    if (eq < 0) {
      if (value === undefined || value.startsWith('--')) throw usageError(`${name} needs a value`);
      i++;
    }
    value = value!;
    if (args.values.has(name)) throw usageError(`${name} is given twice`);
    args.values.set(name, value);
  }
  return args;
}

/** The arguments after the first `n` positionals (the command words). */
export const shift = (args: Args, n = 1): Args => ({ ...args, positionals: args.positionals.slice(n) });

/** Rejects options the command does not know and extra or missing positional arguments. */
export function expectArgs(
  args: Args,
  command: string,
  positionals: number | { min: number },
  options: string[] = [],
): void {
  const unknown = [...args.flags, ...args.values.keys()].find((f) => !options.includes(f));
  if (unknown) throw usageError(`${command}: unknown option ${unknown}`);
  const n = args.positionals.length;
  if (typeof positionals === 'number' ? n !== positionals : n < positionals.min)
    throw usageError(
      `${command}: expected ${typeof positionals === 'number' ? positionals : `at least ${positionals.min}`} argument(s)`,
    );
}

/** `--tenant <id>`, required, naming a tenant that exists. */
export async function requireTenant(pool: Pool, args: Args, command: string): Promise<string> {
  const id = args.values.get('--tenant');
  if (id === undefined) throw usageError(`${command}: say which tenant with --tenant <id>`);
  return checkTenant(pool, id);
}

export async function checkTenant(pool: Pool, id: string): Promise<string> {
  if (!(await getTenant(pool, id)))
    throw inputError(
      `unknown tenant "${id}" (herald tenants list shows them; herald tenants create adds one)`,
    );
  return id;
}

/** Opens a small pool, proves it can connect (so that failure gets its own message), and always closes it. */
export async function withDatabase<T>(work: (pool: Pool) => Promise<T>): Promise<T> {
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
export function readDevEnvUrl(): string | undefined {
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
export function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0)
    return error.errors.map(describeError).join('; ');
  if (!(error instanceof Error)) return String(error);
  const message = error.message.split('\n')[0] || error.name;
  return error.cause === undefined ? message : `${message}: ${describeError(error.cause)}`;
}

/** Left-aligned columns under a header, two spaces apart. */
export function formatTable(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export const printJson = (value: unknown) => console.log(JSON.stringify(value, null, 2));
