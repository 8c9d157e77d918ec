import { z } from 'zod';
import { parseEnv } from '../common/config';
import { isValidSecretKey } from '../common/secret-box';
import { DEFAULT_TASK_QUEUE } from '../common/temporal';
import { CHANNELS } from '../common/types';

const ms = (fallback: number) => z.coerce.number().int().min(1).default(fallback);

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('127.0.0.1'),
  DATABASE_URL: z.string().min(1, 'DATABASE_URL is required (a postgres:// URL)'),
  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_UI_URL: z.string().url().default('http://127.0.0.1:8233'),
  HERALD_TASK_QUEUE: z.string().default(DEFAULT_TASK_QUEUE),
  PUBLIC_BASE_URL: z.string().url().optional(),
  BRAND_NAME: z.string().default('Herald'),
  /** Web push: the public half of the VAPID key pair, served to browsers. */
  VAPID_PUBLIC_KEY: z.string().optional(),
  /** Twilio: verifies X-Twilio-Signature on status callbacks. */
  TWILIO_AUTH_TOKEN: z.string().optional(),
  /**
   * Development only: `loopback` lets push and webhook URLs point at 127.0.0.1/::1 over http or https.
   * Private, link-local and other special addresses stay refused whatever this says.
   */
  HERALD_ALLOW_LOOPBACK_URLS: z.enum(['true', 'false']).default('false'),
  /** DNS servers (comma-separated host:port) that resolve push and webhook hosts; the system's if unset. */
  HERALD_DNS_SERVERS: z.string().optional(),
  /** Seals webhook signing secrets at rest (AES-256-GCM); without it webhook endpoints cannot be managed. */
  HERALD_SECRET_KEY: z
    .string()
    .refine(isValidSecretKey, 'must be 32 bytes, written as 64 hex digits or as base64')
    .optional(),
  BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(256 * 1024),
  /** `true`: `high` notifications ignore quiet hours like `critical` ones. */
  QUIET_HOURS_HIGH_BYPASS: z.enum(['true', 'false']).default('false'),
  BATCH_SIZE: z.coerce.number().int().min(1).max(1000).default(200),
  MAX_CONCURRENT_BATCHES: z.coerce.number().int().min(1).max(100).default(4),
  SEND_HEARTBEAT_TIMEOUT_MS: ms(30_000),
  // Retries of temporary send failures, for every channel; <CHANNEL>_RETRY_* overrides one channel.
  RETRY_INITIAL_INTERVAL_MS: ms(5_000),
  RETRY_BACKOFF_COEFFICIENT: z.coerce.number().min(1).default(2),
  RETRY_MAX_INTERVAL_MS: ms(10 * 60_000),
  RETRY_MAX_ATTEMPTS: z.coerce.number().int().min(1).default(8),
  ...perChannelRetrySettings(),
  // Abuse limits (README, "Limits"). 0 turns the rate limit off.
  /** Requests per minute per API key (or per end-user token's recipient), shared by every API process. */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(600),
  /** Most sends one notification may cause: audience × channels, over every escalation level and repeat. */
  MAX_SENDS_PER_NOTIFICATION: z.coerce.number().int().min(1).default(100_000),
  ...dailyQuotaSettings(),
  MAX_PUSH_SUBSCRIPTIONS_PER_RECIPIENT: z.coerce.number().int().min(1).default(10),
  MAX_WEBHOOK_ENDPOINTS_PER_TENANT: z.coerce.number().int().min(1).default(50),
  /** Open live inbox streams per recipient, per API process. */
  MAX_SSE_STREAMS_PER_RECIPIENT: z.coerce.number().int().min(1).default(5),
  /** Lifetime of an end-user token from `POST /v1/recipients/{id}/tokens`. */
  END_USER_TOKEN_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(30 * 86_400)
    .default(3_600),
});

/**
 * `DAILY_QUOTA_SMS`, `DAILY_QUOTA_EMAIL`…: default sends per tenant and UTC day on each channel
 * (a tenant's own quota, set with the CLI, wins). Unset: no quota, except SMS and WhatsApp, which cost money.
 */
function dailyQuotaSettings() {
  const paid: Partial<Record<(typeof CHANNELS)[number], number>> = { sms: 10_000, whatsapp: 10_000 };
  return Object.fromEntries(
    CHANNELS.map((channel) => {
      const base = z.coerce.number().int().min(0);
      const fallback = paid[channel];
      return [
        `DAILY_QUOTA_${channel.toUpperCase()}`,
        fallback === undefined ? base.optional() : base.default(fallback),
      ];
    }),
  ) as Record<string, z.ZodOptional<z.ZodCoercedNumber>>;
}

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

export type ApiConfig = z.infer<typeof schema>;

/** Parses the API's environment once; throws naming every bad variable. */
export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  return parseEnv(schema, env, 'API');
}
