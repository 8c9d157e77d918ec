import type { Pool } from 'pg';
import type { Logger } from '../../common/logger';
import { resolverFromSettings } from '../../common/url-safety';
import type { WorkerConfig } from '../config';
import { startStatusEventDispatcher, type StatusEventDispatcher } from './dispatcher';

/**
 * The worker's status-event dispatcher from its settings; null when this process sends none
 * (STATUS_EVENTS_DISPATCH=false, or no HERALD_SECRET_KEY to open the endpoints' secrets).
 */
export function startStatusEventsFromConfig(
  config: WorkerConfig,
  db: Pool,
  secretKey: Buffer | undefined,
  log: Logger,
): StatusEventDispatcher | null {
  if (config.STATUS_EVENTS_DISPATCH === 'false') return null;
  if (!secretKey) {
    log.warn('HERALD_SECRET_KEY is not set: status events are not sent');
    return null;
  }
  return startStatusEventDispatcher({
    db,
    secretKey,
    urlPolicy: {
      allowLoopback: config.HERALD_ALLOW_LOOPBACK_URLS === 'true',
      resolver: resolverFromSettings({ HERALD_DNS_SERVERS: config.HERALD_DNS_SERVERS }),
    },
    log: log.child({ component: 'status-events' }),
    pollMs: config.STATUS_EVENTS_POLL_MS,
    batchSize: config.STATUS_EVENTS_BATCH,
    timeoutMs: config.STATUS_EVENTS_TIMEOUT_MS,
    retry: {
      initialMs: config.STATUS_EVENTS_RETRY_INITIAL_MS,
      maxMs: config.STATUS_EVENTS_RETRY_MAX_MS,
      maxAttempts: config.STATUS_EVENTS_MAX_ATTEMPTS,
    },
    retentionDays: config.STATUS_EVENTS_RETENTION_DAYS,
  });
}
