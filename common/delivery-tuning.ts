import { z } from 'zod';
import { CHANNELS, type ChannelName, type ChannelRetryPolicy, type DeliveryTuning } from './types';

const ms = (fallback: number) => z.coerce.number().int().min(1).default(fallback);

/** `EMAIL_RETRY_INITIAL_INTERVAL_MS`, `SMS_RETRY_MAX_ATTEMPTS`…: optional per-channel overrides. */
function perChannelRetrySettings() {
  const optionalMs = z.coerce.number().int().min(1).optional();
  return Object.fromEntries(
    CHANNELS.flatMap((channel) => {
      const prefix = `${channel.toUpperCase()}_RETRY_`;
      return [
        [`${prefix}INITIAL_INTERVAL_MS`, optionalMs],
        [`${prefix}BACKOFF_COEFFICIENT`, z.coerce.number().min(1).optional()],
        [`${prefix}MAX_INTERVAL_MS`, optionalMs],
        [`${prefix}MAX_ATTEMPTS`, optionalMs],
      ];
    }),
  ) as Record<string, z.ZodOptional<z.ZodCoercedNumber>>;
}

/**
 * The settings that tune deliveries, in the config schema of every process that starts notification
 * workflows (the API for POST /v1/notifications, the worker for overdue items), so both read them alike.
 */
export const deliveryTuningSettings = {
  /** `true`: `high` notifications ignore quiet hours like `critical` ones. */
  QUIET_HOURS_HIGH_BYPASS: z.enum(['true', 'false']).default('false'),
  BATCH_SIZE: z.coerce.number().int().min(1).max(1000).default(200),
  MAX_CONCURRENT_BATCHES: z.coerce.number().int().min(1).max(100).default(4),
  SEND_HEARTBEAT_TIMEOUT_MS: ms(30_000),
  // Paged fan-out: batches per page, and the history length at which a run continues as new.
  RANGES_PER_PAGE: z.coerce.number().int().min(1).max(1000).default(50),
  HISTORY_EVENTS_PER_RUN: z.coerce.number().int().min(50).max(40_000).default(8_000),
  // Audiences up to this many deliveries are sent by the resolving activity itself (0: never).
  SMALL_AUDIENCE_DELIVERIES: z.coerce.number().int().min(0).max(1000).default(20),
  // Retries of temporary send failures, for every channel; <CHANNEL>_RETRY_* overrides one channel.
  RETRY_INITIAL_INTERVAL_MS: ms(5_000),
  RETRY_BACKOFF_COEFFICIENT: z.coerce.number().min(1).default(2),
  RETRY_MAX_INTERVAL_MS: ms(10 * 60_000),
  RETRY_MAX_ATTEMPTS: z.coerce.number().int().min(1).default(8),
  ...perChannelRetrySettings(),
};

const settingsSchema = z.object(deliveryTuningSettings);
export type DeliveryTuningSettings = z.infer<typeof settingsSchema>;

/** The tuning a notification workflow gets as input, from a process's parsed settings. */
export function deliveryTuning(config: DeliveryTuningSettings): DeliveryTuning {
  return {
    quietHoursBypassHigh: config.QUIET_HOURS_HIGH_BYPASS === 'true',
    batchSize: config.BATCH_SIZE,
    maxConcurrentBatches: config.MAX_CONCURRENT_BATCHES,
    heartbeatTimeoutMs: config.SEND_HEARTBEAT_TIMEOUT_MS,
    rangesPerPage: config.RANGES_PER_PAGE,
    historyEventsPerRun: config.HISTORY_EVENTS_PER_RUN,
    smallAudience: config.SMALL_AUDIENCE_DELIVERIES,
    retry: Object.fromEntries(
      CHANNELS.map((channel) => [channel, retryPolicy(config, channel)]),
    ) as DeliveryTuning['retry'],
  };
}

/** The tuning with every setting at its default. */
export const DEFAULT_DELIVERY_TUNING: DeliveryTuning = deliveryTuning(settingsSchema.parse({}));

/** A channel's retry policy: its `<CHANNEL>_RETRY_*` settings where given, else the shared `RETRY_*` ones. */
function retryPolicy(config: DeliveryTuningSettings, channel: ChannelName): ChannelRetryPolicy {
  const own = (name: string): number | undefined =>
    (config as unknown as Record<string, number | undefined>)[`${channel.toUpperCase()}_RETRY_${name}`];
  return {
    initialIntervalMs: own('INITIAL_INTERVAL_MS') ?? config.RETRY_INITIAL_INTERVAL_MS,
    backoffCoefficient: own('BACKOFF_COEFFICIENT') ?? config.RETRY_BACKOFF_COEFFICIENT,
    maximumIntervalMs: own('MAX_INTERVAL_MS') ?? config.RETRY_MAX_INTERVAL_MS,
    maximumAttempts: own('MAX_ATTEMPTS') ?? config.RETRY_MAX_ATTEMPTS,
  };
}
