import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createPool } from '../db/pool';
import { pendingMigrations } from '../db/migrate';
import { TemplateRegistry } from '../templates/registry';
import { resealWebhookEndpoints } from '../activities/channels/webhook/endpoint-url';
import { deliveryTuning } from '../common/delivery-tuning';
import { createLogger } from '../common/logger';
import { workerMetrics } from '../common/metrics';
import { loadSchedulesFile } from '../common/schedules';
import { secretKeyIfSet } from '../common/secret-box';
import { syncSchedules, type SyncResult } from '../common/temporal-schedules';
import { startMetricsServer, type MetricsServer } from './metrics-server';
import { loadWorkerConfig, type WorkerConfig } from './config';
import { bundleWorkflowsInChild } from './workflow-bundle';
import { startStatusEventsFromConfig } from './status-events/from-config';
import {
  ackLinksFrom,
  buildChannels,
  createHeraldWorker,
  ensureSearchAttributes,
  unsubscribeLinksFrom,
} from './create-worker';

/** The worker process: the composition root that builds the pool, the transports and the templates. */
async function main(): Promise<void> {
  const config = loadWorkerConfig();
  Runtime.install({ logger: new DefaultLogger(config.LOG_LEVEL) });
  const db = createPool(config.DATABASE_URL);
  const pending = await pendingMigrations(db);
  if (pending.length > 0)
    throw new Error(`database is not migrated (pending: ${pending.join(', ')}); run: npm run migrate`);
  // Webhook URLs stored in plain text, and values sealed under the raw key, are sealed the current way.
  const secretKey = secretKeyIfSet(config);
  const resealed = secretKey ? await resealWebhookEndpoints(db, secretKey) : 0;
  const templates = await TemplateRegistry.load();
  const setup = buildChannels({ settings: config, db });
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
    ackLinks: ackLinksFrom(config),
    unsubscribeLinks: unsubscribeLinksFrom(config),
    maxConcurrentActivityTaskExecutions: config.MAX_CONCURRENT_ACTIVITIES,
    maxCachedWorkflows: config.MAX_CACHED_WORKFLOWS,
    tuning: deliveryTuning(config),
    log: createLogger('activities', config.LOG_LEVEL),
    workflowBundle: config.WORKFLOW_BUNDLE_PATH
      ? { codePath: config.WORKFLOW_BUNDLE_PATH }
      : await bundleWorkflowsInChild(),
  });
  const log = createLogger('worker', config.LOG_LEVEL);
  const statusEvents = startStatusEventsFromConfig(config, db, secretKey, log);
  // WORKER_METRICS_PORT set: this process's registry as Prometheus text at
  // http://<WORKER_METRICS_HOST, loopback by default>:<port>/metrics. It has no authentication.
  const metricsServer: MetricsServer | undefined =
    config.WORKER_METRICS_PORT === undefined
      ? undefined
      : await startMetricsServer(workerMetrics(), config.WORKER_METRICS_PORT, config.WORKER_METRICS_HOST);
  // Before the startup line: a bad schedules file stops the worker before it says it started.
  const schedules = await syncSchedulesAtStart(config);
  if (schedules) console.log(JSON.stringify({ msg: 'schedules synced', ...schedules }));
  // `herald dev` and the tests wait for this line: it is written whatever LOG_LEVEL says.
  const startup = log.isLevelEnabled('info') ? log : log.child({}, { level: 'info' });
  startup.info(
    {
      taskQueue: config.HERALD_TASK_QUEUE,
      namespace: config.TEMPORAL_NAMESPACE,
      templates: templates.events().length,
      channels: setup.report,
      searchAttributesAdded: added,
      metricsPort: metricsServer?.port ?? null,
      metricsHost: metricsServer ? config.WORKER_METRICS_HOST : null,
      webhookEndpointsResealed: resealed,
      statusEvents: statusEvents !== null,
    },
    'worker started',
  );
  const stop = () => worker.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await worker.run();
  } finally {
    await metricsServer?.close();
    await statusEvents?.stop();
    await setup.close();
    await connection.close();
    await db.end();
  }
}

/** HERALD_SYNC_SCHEDULES=true: the schedules file synced onto this worker's task queue; else null. */
async function syncSchedulesAtStart(config: WorkerConfig): Promise<SyncResult | null> {
  if (config.HERALD_SYNC_SCHEDULES !== 'true') return null;
  const declared = loadSchedulesFile(config.HERALD_SCHEDULES_FILE);
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  try {
    const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
    return await syncSchedules(client, config.HERALD_TASK_QUEUE, declared);
  } finally {
    await connection.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
