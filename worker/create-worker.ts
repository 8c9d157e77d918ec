import path from 'node:path';
import { Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Pool } from 'pg';
import { createActivities } from '../activities';
import type { ChannelRegistry } from '../activities/channels/types';
import { decodeSecretKey } from '../common/secret-box';
import { ALL_SEARCH_ATTRIBUTES } from '../common/temporal';
import { TemplateRegistry } from '../templates/registry';

export const WORKFLOWS_PATH = path.join(__dirname, '..', 'workflows', 'index.ts');

export interface HeraldWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  db: Pool;
  channels: ChannelRegistry;
  templates: TemplateRegistry;
  brandName: string;
  /** Where signed acknowledgement links point, and the key that signs them. */
  ackLinks?: { baseUrl: string; key: Buffer };
  /** A prebuilt workflow bundle (tests bundle once); otherwise the workflows are bundled now. */
  workflowBundle?: { codePath: string };
  maxConcurrentActivityTaskExecutions?: number;
}

export async function createHeraldWorker(opts: HeraldWorkerOptions): Promise<Worker> {
  const activities = createActivities({
    db: opts.db,
    templates: opts.templates,
    channels: opts.channels,
    brandName: opts.brandName,
    ackLinks: opts.ackLinks,
  });
  const workerOptions: WorkerOptions = {
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities,
    maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivityTaskExecutions ?? 20,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
  };
  return Worker.create(workerOptions);
}

/** Registers Herald's search attributes on a namespace (idempotent), for clusters other than the dev server. */
export async function ensureSearchAttributes(address: string, namespace: string): Promise<string[]> {
  const connection = await Connection.connect({ address });
  try {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    const known = new Set(Object.keys(existing.customAttributes ?? {}));
    const missing = ALL_SEARCH_ATTRIBUTES.filter((k) => !known.has(k.name));
    if (missing.length > 0) {
      await connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(
          missing.map((k) => [k.name, 2 /* INDEXED_VALUE_TYPE_KEYWORD */]),
        ),
      });
    }
    return missing.map((k) => k.name);
  } finally {
    await connection.close();
  }
}

export { buildChannels } from '../activities/channels/registry';

/** Acknowledgement links need both the API's public URL and the secret key; without either, none. */
export function ackLinksFromEnv(env: NodeJS.ProcessEnv): { baseUrl: string; key: Buffer } | undefined {
  if (!env.PUBLIC_BASE_URL || !env.HERALD_SECRET_KEY) return undefined;
  return { baseUrl: env.PUBLIC_BASE_URL, key: decodeSecretKey(env.HERALD_SECRET_KEY) };
}
