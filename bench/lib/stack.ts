/**
 * What every row shares, started fresh for one run: PostgreSQL (embedded), a Temporal server on a
 * new data directory (the dev server with `npm run dev`'s SQLite flags, or the full server on
 * PostgreSQL), the counting sink in its own process, the bench tenant and its recipients.
 */
import { channelSettings } from '../../activities/channels/settings';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Pool } from 'pg';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { emailChannelFactory } from '../../activities/channels/email';
import { createTenantWithKey } from '../../api/services/tenancy';
import { migrate } from '../../db/migrate';
import { createPool } from '../../db/pool';
import { ensureDatabase, withDatabase } from '../../scripts/lib/databases';
import { freePort } from '../../scripts/lib/ports';
import { startEmbeddedPostgres } from '../../scripts/lib/postgres';
import { startTemporalDevServer } from '../../scripts/lib/temporal-dev-server';
import { startTemporalFullServer } from '../../scripts/lib/temporal-full-server';
import { WORKFLOWS_PATH } from '../../worker/create-worker';
import { TemplateRegistry } from '../../templates/registry';
import type { BenchConfig } from '../config';
import { PG_STATEMENTS_SETTINGS } from './pg-statements';
import { startSinkProcess, type SinkProcess } from './sink';

export const BENCH_TENANT = 'bench';
export const NAMESPACE = 'default';

export interface BenchStack {
  dir: string;
  databaseUrl: string;
  db: Pool;
  temporalAddress: string;
  /** For CPU by process (bench/lib/cpu.ts): the Temporal server, and PostgreSQL's postmaster. */
  temporalPid: number | undefined;
  postgresPid: number | undefined;
  client: Client;
  sink: SinkProcess;
  templates: TemplateRegistry;
  apiKey: string;
  /** Pooled SMTP connections of every sender: --smtp-connections, else Herald's own default. */
  smtpConnections: number;
  /** WORKFLOW_BUNDLE_PATH for the Herald worker, with --prebuilt-bundle. */
  workflowBundlePath?: string;
  close(): Promise<void>;
}

const log = (message: string) => console.error(`[bench] ${message}`);

export async function startBenchStack(config: BenchConfig, recipients: number): Promise<BenchStack> {
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const closer of closers.reverse()) await closer().catch((error: unknown) => log(String(error)));
  };
  try {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'herald-bench-'));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    await chmod(dir, 0o755); // the embedded server's own OS user (when run as root) must reach it
    const pg = await startEmbeddedPostgres({
      dataDir: path.join(dir, 'pg'),
      port: await freePort(),
      persistent: false,
      password: randomBytes(18).toString('hex'), // a throwaway server: any fresh secret will do
      settings: config.flags['pg-statements'] ? PG_STATEMENTS_SETTINGS : undefined,
    });
    closers.push(() => pg.stop());
    log('PostgreSQL up');

    const temporal = await startTemporal(config, pg.url, dir);
    closers.push(temporal.stop);
    log(`Temporal ${config.flags.temporal} server up at ${temporal.address}`);

    const sink = await startSinkProcess(config.baseEnv);
    closers.push(sink.stop);
    const db = createPool(pg.url, 10);
    closers.push(() => db.end());
    await migrate(db);
    if (config.flags['pg-statements']) await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const tenant = await createTenantWithKey(db, BENCH_TENANT, 'Benchmark');
    if (!tenant) throw new Error(`tenant ${BENCH_TENANT} exists already in a fresh database`);
    if (recipients > 0) await seed(db, recipients, config.flags.recipients);
    const templates = await TemplateRegistry.load();
    const smtpConnections = config.flags['smtp-connections'] ?? (await heraldPoolSize(sink.url, db));
    const workflowBundlePath = config.flags['prebuilt-bundle'] ? await prebuildBundle(dir) : undefined;
    const connection = await Connection.connect({ address: temporal.address });
    closers.push(() => connection.close());
    return {
      dir,
      databaseUrl: pg.url,
      db,
      temporalAddress: temporal.address,
      temporalPid: temporal.pid,
      postgresPid: await postmasterPid(path.join(dir, 'pg')),
      client: new Client({ connection, namespace: NAMESPACE }),
      sink,
      templates,
      apiKey: tenant.key,
      smtpConnections,
      workflowBundlePath,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

async function startTemporal(
  config: BenchConfig,
  pgUrl: string,
  dir: string,
): Promise<{ address: string; pid: number | undefined; stop(): Promise<void> }> {
  if (config.flags.temporal === 'dev') {
    if (!config.temporalCli)
      throw new Error(
        'set TEMPORAL_CLI (npm run bench does: scripts/bootstrap.sh builds .tools/bin/temporal)',
      );
    const server = await startTemporalDevServer({
      cli: config.temporalCli,
      port: await freePort(),
      uiPort: await freePort(),
      dbFile: path.join(dir, 'temporal.db'), // a fresh history every run: an old busy one slows the next
      logFile: createWriteStream(path.join(dir, 'temporal.log')),
    });
    return { address: server.address, pid: server.process.pid, stop: server.stop };
  }
  if (!config.temporalServer || !config.temporalSqlTool)
    throw new Error(
      '--temporal full needs TEMPORAL_SERVER and TEMPORAL_SQL_TOOL (npm run bench builds them: ensure_temporal_server)',
    );
  const url = new URL(pgUrl);
  const databases = { main: 'temporal', visibility: 'temporal_visibility' };
  const admin = withDatabase(pgUrl, 'postgres');
  await ensureDatabase(admin, databases.main);
  await ensureDatabase(admin, databases.visibility);
  const server = await startTemporalFullServer({
    server: config.temporalServer,
    sqlTool: config.temporalSqlTool,
    pg: {
      host: url.hostname,
      port: Number(url.port),
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
    },
    databases,
    dir,
  });
  return { address: server.address, pid: server.pid(), stop: server.stop };
}

/** The first line of postmaster.pid; undefined if the file cannot be read. */
async function postmasterPid(dataDir: string): Promise<number | undefined> {
  const text = await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '');
  const pid = Number(text.split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Recipients bench-1 … bench-N with an email address, and the group Bench of the first `groupSize`. */
async function seed(db: Pool, recipients: number, groupSize: number): Promise<void> {
  const started = performance.now();
  await db.query(
    `INSERT INTO recipients (tenant_id, external_id, name, email)
     SELECT $2, 'bench-' || i, 'Bench ' || i, 'bench-' || i || '@example.com' FROM generate_series(1, $1) i`,
    [recipients, BENCH_TENANT],
  );
  await db.query(`INSERT INTO groups (tenant_id, key, name) VALUES ($1, 'bench', 'Bench')`, [BENCH_TENANT]);
  await db.query(
    `INSERT INTO group_members (tenant_id, group_key, external_id)
     SELECT $2, 'bench', 'bench-' || i FROM generate_series(1, $1) i`,
    [Math.min(groupSize, recipients), BENCH_TENANT],
  );
  log(`seeded ${recipients} recipients in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** The pool size Herald's email channel gives itself when SMTP_MAX_CONNECTIONS is not set. */
async function heraldPoolSize(sinkUrl: string, db: Pool): Promise<number> {
  const build = emailChannelFactory({ settings: channelSettings({ SMTP_URL: sinkUrl }), db });
  await build.close();
  return build.channel.concurrency;
}

/** Herald's workflows bundled once, as the tests' global setup does, for WORKFLOW_BUNDLE_PATH. */
async function prebuildBundle(dir: string): Promise<string> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: new DefaultLogger('ERROR'),
  });
  const file = path.join(dir, 'workflow-bundle.js');
  await writeFile(file, code);
  return file;
}
