import { z } from 'zod';
import { channelSettingsShape, refineChannelSettings } from '../activities/channels/settings';
import { DEFAULT_ACK_LINK_TTL_SECONDS } from '../common/ack-link';
import { blankAsUnset, parseEnv } from '../common/config';
import { deliveryTuningSettings } from '../common/delivery-tuning';
import { DEFAULT_TASK_QUEUE } from '../common/temporal';

/** How long a signed acknowledgement link in a message works (a minute to a year). */
export const ackLinkTtlSeconds = z.coerce
  .number()
  .int()
  .min(60)
  .max(365 * 86_400)
  .default(DEFAULT_ACK_LINK_TTL_SECONDS);

const schema = z
  .object({
    DATABASE_URL: z.string().min(1, 'DATABASE_URL is required (a postgres:// URL)'),
    TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
    TEMPORAL_NAMESPACE: z.string().default('default'),
    HERALD_TASK_QUEUE: z.string().default(DEFAULT_TASK_QUEUE),
    // Every channel's variables (SMTP_URL, VAPID_*, TWILIO_*, WEBHOOK_*…): each channel folder declares
    // its own; they are parsed here, once, and handed to the channels as one typed slice.
    ...channelSettingsShape,
    /** true: at start the worker syncs the schedules file onto its task queue (common/temporal-schedules.ts). */
    HERALD_SYNC_SCHEDULES: z.enum(['true', 'false']).default('false'),
    /** The schedules file to sync; config/schedules.yaml if unset. */
    HERALD_SCHEDULES_FILE: blankAsUnset(z.string()),
    BRAND_NAME: z.string().default('Herald'),
    LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('WARN'),
    MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).default(20),
    // Runs kept in memory between their tasks; the SDK's default scales with the heap limit (thousands).
    MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).default(250),
    /** A prebuilt workflow bundle (from bundleWorkflowCode); without it the worker bundles at start. */
    WORKFLOW_BUNDLE_PATH: z.string().optional(),
    /** Set: the worker serves its own Prometheus metrics on this port (0: any free port). */
    WORKER_METRICS_PORT: z.preprocess(
      (value) => (typeof value === 'string' && value.trim() === '' ? undefined : value),
      z.coerce.number().int().min(0).max(65535).optional(),
    ),
    /** Where the metrics server listens: loopback unless a scraper elsewhere needs it (e.g. 0.0.0.0 in a container). */
    WORKER_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    /** Lifetime of the signed acknowledgement links in messages (default 7 days). */
    ACK_LINK_TTL_SECONDS: ackLinkTtlSeconds,
    // The same delivery settings as the API's: the notifications the worker starts (overdue items) use them.
    ...deliveryTuningSettings,
    // Status events (worker/status-events/): the outbox's dispatcher runs in every worker process.
    /** false: this process sends no status events (another worker does). */
    STATUS_EVENTS_DISPATCH: z.enum(['true', 'false']).default('true'),
    /** How often the dispatcher looks for due events when idle. */
    STATUS_EVENTS_POLL_MS: z.coerce.number().int().min(10).default(1_000),
    /** Events sent at once per look (and open connections). */
    STATUS_EVENTS_BATCH: z.coerce.number().int().min(1).max(500).default(20),
    STATUS_EVENTS_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
    /** Backoff: 1 s, 2 s, 4 s … capped at an hour; 36 attempts span about a day. */
    STATUS_EVENTS_RETRY_INITIAL_MS: z.coerce.number().int().min(1).default(1_000),
    STATUS_EVENTS_RETRY_MAX_MS: z.coerce.number().int().min(1).default(3_600_000),
    STATUS_EVENTS_MAX_ATTEMPTS: z.coerce.number().int().min(1).default(36),
    /** Delivered and given-up events, with their attempts, are deleted after this many days. */
    STATUS_EVENTS_RETENTION_DAYS: z.coerce.number().int().min(1).default(30),
  })
  .superRefine(refineChannelSettings);

export type WorkerConfig = z.infer<typeof schema>;

/** Parses the worker's environment once; exits naming every bad variable. */
export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  return parseEnv(schema, env, 'worker');
}
