/**
 * The ceiling row's worker, in a process of its own as Herald's worker is: the bare workflow
 * (bench/bare/workflows.ts) and its send activity on its own task queue. Settings come as one JSON
 * argument; says `ceiling worker ready` on stdout once polling, drains on SIGTERM.
 */
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createSmtpTransport } from '../../activities/channels/email';
import { TemplateRegistry } from '../../templates/registry';
import { BARE_NOTIFICATION_ID, createBareActivities } from '../bare/activities';
import { renderFor } from '../lib/message';

export interface CeilingWorkerSettings {
  address: string;
  namespace: string;
  taskQueue: string;
  sinkUrl: string;
  smtpConnections: number;
  maxConcurrentActivities: number;
}

async function main(): Promise<void> {
  const settings = JSON.parse(process.argv[2] ?? '{}') as CeilingWorkerSettings;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const templates = await TemplateRegistry.load();
  const transport = createSmtpTransport({ url: settings.sinkUrl, maxConnections: settings.smtpConnections });
  const connection = await NativeConnection.connect({ address: settings.address });
  const worker = await Worker.create({
    connection,
    namespace: settings.namespace,
    taskQueue: settings.taskQueue,
    workflowsPath: require.resolve('../bare/workflows'),
    activities: createBareActivities(transport, renderFor(templates, 1, BARE_NOTIFICATION_ID)),
    maxConcurrentActivityTaskExecutions: settings.maxConcurrentActivities,
  });
  process.once('SIGTERM', () => worker.shutdown());
  const running = worker.run();
  console.log('ceiling worker ready');
  try {
    await running;
  } finally {
    transport.close();
    await connection.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
