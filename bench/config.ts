/**
 * The benchmark's settings: its command-line flags and the few environment variables it reads
 * (the Temporal binaries that scripts/bootstrap.sh exports, REDIS_URL). The only file of bench/ that
 * reads process.env or process.argv.
 */
import { z } from 'zod';

export const ROWS = ['limit', 'peer', 'ceiling', 'single', 'fanout', 'api'] as const;
export type RowName = (typeof ROWS)[number];

const count = z.coerce.number().int().min(1);

const flagsSchema = z.object({
  temporal: z.enum(['dev', 'full']).default('dev'),
  /** Audience of the fan-out row. */
  recipients: count.default(10_000),
  /** Notifications of the single row and workflows of the ceiling row. */
  messages: count.default(1_000),
  /** Mails of the limit and peer rows: by default as many as the fan-out sends, its baseline. */
  'baseline-messages': count.optional(),
  only: z
    .string()
    .transform((list) => list.split(',').map((row) => row.trim()))
    .pipe(z.array(z.enum(ROWS)).min(1))
    .optional(),
  json: z.string().min(1).optional(),
  /** Pooled SMTP connections of every sender; unset: Herald's own SMTP_MAX_CONNECTIONS default. */
  'smtp-connections': count.optional(),
  'batch-size': count.optional(),
  'concurrent-batches': count.optional(),
  /** BullMQ worker concurrency: enough jobs in flight to keep the SMTP pool and PostgreSQL busy. */
  'peer-concurrency': count.default(100),
  /** Requests (or workflow starts) in flight in the accept-rate measurements. */
  'in-flight': count.default(20),
  'api-rate': count.default(100),
  'api-seconds': count.default(10),
  /** Connections of the most-it-accepts measurement. */
  'api-connections': count.default(32),
  inapp: z.boolean().default(false),
  /** Hand the worker a workflow bundle built beforehand (WORKFLOW_BUNDLE_PATH), as the tests do. */
  'prebuilt-bundle': z.boolean().default(false),
  'timeout-minutes': count.default(60),
  /** A directory for V8 CPU profiles of Herald's API and worker (node --cpu-prof), to see where time goes. */
  'cpu-prof': z.string().min(1).optional(),
  /** Enable pg_stat_statements and log, per Herald row, the statements that cost PostgreSQL most per unit. */
  'pg-statements': z.boolean().default(false),
  /** Extra settings for Herald's API and worker processes, KEY=VALUE. */
  set: z.array(z.string().regex(/^[A-Z][A-Z0-9_]*=/, 'must be KEY=VALUE')).default([]),
});

export type BenchFlags = z.infer<typeof flagsSchema>;

export interface BenchConfig {
  flags: BenchFlags;
  rows: RowName[];
  baselineMessages: number;
  heraldEnv: Record<string, string>;
  temporalCli?: string;
  temporalServer?: string;
  temporalSqlTool?: string;
  redisUrl?: string;
  /** What child processes inherit: enough to run node, nothing that would configure Herald. */
  baseEnv: Record<string, string>;
  commandLine: string;
}

const BOOLEAN_FLAGS = new Set(['inapp', 'prebuilt-bundle', 'pg-statements']);
const REPEATED_FLAGS = new Set(['set']);

/** `--name value` pairs (and bare boolean flags) into an object; unknown flags are an error. */
function parseArgv(argv: string[]): Record<string, unknown> {
  const known = new Set(Object.keys(flagsSchema.shape));
  const out: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (!token.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(token)}`);
    const [name, inline] = token.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (!known.has(name)) throw new Error(`unknown flag --${name} (known: ${[...known].join(', ')})`);
    if (BOOLEAN_FLAGS.has(name)) {
      out[name] = inline === undefined ? true : inline !== 'false';
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`--${name} needs a value`);
    if (REPEATED_FLAGS.has(name)) out[name] = [...((out[name] as string[] | undefined) ?? []), value];
    else out[name] = value;
  }
  return out;
}

export function loadBenchConfig(
  argv: string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): BenchConfig {
  const parsed = flagsSchema.safeParse(parseArgv(argv));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`);
    throw new Error(`bad flags: ${problems.join('; ')}`);
  }
  const flags = parsed.data;
  const heraldEnv = Object.fromEntries(
    flags.set.map((pair) => {
      const at = pair.indexOf('=');
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
  const baseEnv: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) {
    const value = env[name];
    if (value !== undefined) baseEnv[name] = value;
  }
  return {
    flags,
    // Always in this order: the baselines first, Herald's rows after them on the same stack.
    rows: ROWS.filter((row) => !flags.only || flags.only.includes(row)),
    baselineMessages: flags['baseline-messages'] ?? flags.recipients,
    heraldEnv,
    temporalCli: env.TEMPORAL_CLI || undefined,
    temporalServer: env.TEMPORAL_SERVER || undefined,
    temporalSqlTool: env.TEMPORAL_SQL_TOOL || undefined,
    redisUrl: env.REDIS_URL || undefined,
    baseEnv,
    commandLine: ['npm run bench --', ...argv].join(' '),
  };
}
