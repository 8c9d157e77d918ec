import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode } from '@temporalio/worker';
import { ALL_SEARCH_ATTRIBUTES } from '../../common/temporal';
import { migrate } from '../../db/migrate';
import { createPool } from '../../db/pool';
import {
  dropDatabase,
  ensureDatabase,
  startEmbeddedPostgres,
  withDatabase,
} from '../../scripts/lib/postgres';
import { freePort } from '../../scripts/lib/ports';
import { WORKFLOWS_PATH } from '../../worker/create-worker';
import { buildWeb } from '../../web/build';
import { ROOT, testEnvFile, type TestEnv } from './env';

/** Started once for the whole run: PostgreSQL, the Temporal dev server, and the workflow bundle. */
export default async function globalSetup(): Promise<void> {
  await mkdir(path.join(ROOT, '.tmp'), { recursive: true });
  const [database, temporal, bundle] = await Promise.all([
    startDatabase(),
    startTemporal(),
    bundleWorkflows(),
    ensureWebBuild(),
  ]);
  const pool = createPool(database.url);
  await migrate(pool);
  await pool.end();
  const env: TestEnv = {
    databaseUrl: database.url,
    temporalAddress: temporal.address,
    namespace: 'default',
    workflowBundlePath: bundle,
  };
  const envFile = testEnvFile();
  await writeFile(envFile, JSON.stringify(env, null, 2));
  // Test files (same process with --runInBand, or jest workers) find the services through this.
  process.env.HERALD_TEST_ENV_FILE = envFile;
  (globalThis as Record<string, unknown>).__heraldTeardown = async () => {
    await temporal.stop();
    await database.stop();
    await rm(envFile, { force: true });
    await rm(bundle, { force: true });
  };
}

async function startDatabase(): Promise<{ url: string; stop: () => Promise<void> }> {
  const given = process.env.DATABASE_URL;
  if (given) {
    // A throwaway database on the given server, so tests never touch real data.
    const name = `herald_test_${process.pid}`;
    const admin = withDatabase(given, 'postgres');
    await ensureDatabase(admin, name);
    return { url: withDatabase(given, name), stop: () => dropDatabase(admin, name) };
  }
  const pg = await startEmbeddedPostgres({
    dataDir: path.join(ROOT, '.tmp', `pg-test-${process.pid}`),
    port: await freePort(),
    persistent: false,
    password: randomBytes(18).toString('hex'), // a throwaway server: any fresh secret will do
  });
  return pg;
}

async function startTemporal(): Promise<{ address: string; stop: () => Promise<void> }> {
  const cli = process.env.TEMPORAL_CLI;
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      // The pinned CLI built by scripts/bootstrap.sh; without it the SDK downloads a dev server.
      ...(cli ? { executable: { type: 'existing-path' as const, path: cli } } : {}),
      searchAttributes: ALL_SEARCH_ATTRIBUTES,
    },
  });
  return { address: env.address, stop: () => env.teardown() };
}

/**
 * web/dist for the API's /embed and /app routes, when jest runs without scripts/test.sh (which builds
 * it first). A broken web source fails only the browser tests, which say so, not the whole run.
 */
async function ensureWebBuild(): Promise<void> {
  const { failed } = await buildWeb({ ifStale: true });
  for (const failure of failed)
    console.error(`web/dist: ${failure.source} did not build:\n${failure.message}`);
}

async function bundleWorkflows(): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger });
  const file = path.join(ROOT, '.tmp', `workflow-bundle-${process.pid}.js`);
  await writeFile(file, code);
  return file;
}

const noop = () => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop };
