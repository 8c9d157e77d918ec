import path from 'node:path';
import { Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Pool } from 'pg';
import { createActivities } from '../activities';
import type { ChannelRegistry } from '../activities/channels/types';
import { ackLinkKey, DEFAULT_ACK_LINK_TTL_SECONDS, type AckLinkSettings } from '../common/ack-link';
import { unsubscribeKey, type UnsubscribeLinkSettings } from '../common/unsubscribe-token';
import { secretKeyIfSet } from '../common/secret-box';
import { ALL_SEARCH_ATTRIBUTES } from '../common/temporal';
import type { DeliveryTuning } from '../common/types';
import { TemplateRegistry } from '../templates/registry';
import type { Logger } from '../common/logger';

export const WORKFLOWS_PATH = path.join(__dirname, '..', 'workflows', 'index.ts');

export interface HeraldWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  db: Pool;
  channels: ChannelRegistry;
  templates: TemplateRegistry;
  brandName: string;
  /** Where signed acknowledgement links point, the key that signs them, and how long they work. */
  ackLinks?: AckLinkSettings;
  /** Where one-click unsubscribe links point and the key that signs them. */
  unsubscribeLinks?: UnsubscribeLinkSettings;
  /** A prebuilt workflow bundle (tests bundle once); otherwise the workflows are bundled now. */
  workflowBundle?: { codePath: string };
  maxConcurrentActivityTaskExecutions?: number;
  /** Runs kept in the sticky cache (each holds its workflow state between tasks). */
  maxCachedWorkflows?: number;
  /** Tuning of the notifications the worker starts itself (overdue items): deliveryTuning(its config). */
  tuning?: DeliveryTuning;
  /** The activities' logger (worker/main.ts: at LOG_LEVEL); silent if not given. */
  log?: Logger;
}

export async function createHeraldWorker(opts: HeraldWorkerOptions): Promise<Worker> {
  const activities = createActivities({
    db: opts.db,
    templates: opts.templates,
    channels: opts.channels,
    brandName: opts.brandName,
    ackLinks: opts.ackLinks,
    unsubscribeLinks: opts.unsubscribeLinks,
    tuning: opts.tuning,
    log: opts.log,
  });
  const workerOptions: WorkerOptions = {
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities,
    maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivityTaskExecutions ?? 20,
    ...(opts.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: opts.maxCachedWorkflows } : {}),
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

/** The variables signed links in messages depend on: a slice of the worker's configuration. */
export interface LinkSettings {
  PUBLIC_BASE_URL?: string;
  HERALD_SECRET_KEY?: string;
  /** Seconds an acknowledgement link works; 7 days when left out. */
  ACK_LINK_TTL_SECONDS?: number;
}

/**
 * Acknowledgement links need both the API's public URL and the secret key; without either, none.
 * They are signed with a key derived for them alone, and work for ACK_LINK_TTL_SECONDS.
 */
export function ackLinksFrom(settings: LinkSettings): Required<AckLinkSettings> | undefined {
  const secretKey = secretKeyIfSet(settings);
  if (!settings.PUBLIC_BASE_URL || !secretKey) return undefined;
  return {
    baseUrl: settings.PUBLIC_BASE_URL,
    key: ackLinkKey(secretKey),
    ttlSeconds: settings.ACK_LINK_TTL_SECONDS ?? DEFAULT_ACK_LINK_TTL_SECONDS,
  };
}

/**
 * One-click unsubscribe links (RFC 8058) need the same two settings as ack links; without either,
 * email carries no List-Unsubscribe header and the footer no link. Signed with their own derived key.
 */
export function unsubscribeLinksFrom(settings: LinkSettings): UnsubscribeLinkSettings | undefined {
  const secretKey = secretKeyIfSet(settings);
  if (!settings.PUBLIC_BASE_URL || !secretKey) return undefined;
  return {
    baseUrl: settings.PUBLIC_BASE_URL,
    key: unsubscribeKey(secretKey),
  };
}
