import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createPool } from '../db/pool';
import { pendingMigrations } from '../db/migrate';
import { TemplateRegistry } from '../templates/registry';
import { loadWorkerConfig } from './config';
import { ackLinksFromEnv, buildChannels, createHeraldWorker, ensureSearchAttributes } from './create-worker';

/** The worker process: the composition root that builds the pool, the transports and the templates. */
async function main(): Promise<void> {
  const config = loadWorkerConfig();
  Runtime.install({ logger: new DefaultLogger(config.LOG_LEVEL) });
  const db = createPool(config.DATABASE_URL);
  const pending = await pendingMigrations(db);
  if (pending.length > 0)
    throw new Error(`database is not migrated (pending: ${pending.join(', ')}); run: npm run migrate`);
  const templates = await TemplateRegistry.load();
  const setup = buildChannels({ env: process.env, db });
  const added = await ensureSearchAttributes(config.TEMPORAL_ADDRESS, config.TEMPORAL_NAMESPACE);
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const worker = await createHeraldWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.HERALD_TASK_QUEUE,
    db,
    channels: setup.channels,
    templates,
    brandName: config.BRAND_NAME,
    ackLinks: ackLinksFromEnv(process.env),
    maxConcurrentActivityTaskExecutions: config.MAX_CONCURRENT_ACTIVITIES,
    workflowBundle: config.WORKFLOW_BUNDLE_PATH ? { codePath: config.WORKFLOW_BUNDLE_PATH } : undefined,
  });
  console.log(
    JSON.stringify({
      msg: 'worker started',
      taskQueue: config.HERALD_TASK_QUEUE,
      namespace: config.TEMPORAL_NAMESPACE,
      templates: templates.events().length,
      channels: setup.report,
      searchAttributesAdded: added,
    }),
  );
  const stop = () => worker.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await worker.run();
  } finally {
    await setup.close();
    await connection.close();
    await db.end();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
