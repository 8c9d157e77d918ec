import { z } from 'zod';
import { parseEnv } from '../common/config';
import { sharedSettings } from '../common/shared-settings';
import { deliveryTuningSettings } from '../common/delivery-tuning';
import { DEFAULT_TASK_QUEUE } from '../common/temporal';
import { CHANNELS } from '../common/types';

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('127.0.0.1'),
  DATABASE_URL: z.string().min(1, 'DATABASE_URL is required (a postgres:// URL)'),
  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_UI_URL: z.string().url().default('http://127.0.0.1:8233'),
  HERALD_TASK_QUEUE: z.string().default(DEFAULT_TASK_QUEUE),
  BRAND_NAME: z.string().default('Herald'),
  /** Your app's page where people manage their notification preferences; the unsubscribe page links to it. */
  PREFERENCES_URL: z.url({ protocol: /^https?$/ }).optional(),
  // PUBLIC_BASE_URL, HERALD_SECRET_KEY (without it webhook endpoints and tenant secrets cannot be
  // managed), HERALD_ALLOW_LOOPBACK_URLS, HERALD_DNS_SERVERS, TENANT_SMTP_REQUIRED, TWILIO_AUTH_TOKEN
  // (verifies X-Twilio-Signature on status callbacks), TWILIO_API_BASE_URL (POST /v1/settings/twilio/test),
  // VAPID_PUBLIC_KEY (served to browsers): read by the worker too, so checked by the same schema.
  ...sharedSettings,
  BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(256 * 1024),
  /** POST /v1/notifications/bulk only: up to 1,000 notifications, about 4 KB each by default. */
  BULK_BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(4 * 1024 * 1024),
  /** POST /v1/notifications/bulk: workflow starts in flight at once for one call. */
  BULK_START_CONCURRENCY: z.coerce.number().int().min(1).max(200).default(20),
  // QUIET_HOURS_HIGH_BYPASS, BATCH_SIZE, RETRY_*…: shared with the worker, which starts overdue notifications.
  ...deliveryTuningSettings,
  // Abuse limits (README, "Limits"). 0 turns the rate limit off.
  /** Requests per minute per API key (or per end-user token's recipient), shared by every API process. */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(600),
  /** Most sends one notification may cause: audience × channels, over every escalation level and repeat. */
  MAX_SENDS_PER_NOTIFICATION: z.coerce.number().int().min(1).default(100_000),
  ...dailyQuotaSettings(),
  MAX_PUSH_SUBSCRIPTIONS_PER_RECIPIENT: z.coerce.number().int().min(1).default(10),
  MAX_WEBHOOK_ENDPOINTS_PER_TENANT: z.coerce.number().int().min(1).default(50),
  /** Status-event endpoints (POST /v1/event-endpoints) a tenant may register. */
  MAX_EVENT_ENDPOINTS_PER_TENANT: z.coerce.number().int().min(1).default(10),
  /** Open live inbox streams per recipient, per API process. */
  MAX_SSE_STREAMS_PER_RECIPIENT: z.coerce.number().int().min(1).default(5),
  /**
   * Web apps (exact origins, comma-separated: `https://app.example.com,https://admin.example.com`)
   * whose pages may call /v1 from the browser, e.g. an embedded <herald-inbox>. Empty: none.
   */
  HERALD_CORS_ORIGINS: z
    .string()
    .default('')
    .transform((value, ctx) => {
      const origins = value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      for (const origin of origins) {
        if (!isOrigin(origin)) {
          ctx.addIssue({
            code: 'custom',
            message: `${JSON.stringify(origin)} is not an origin (scheme://host[:port], no path, no trailing slash)`,
          });
        }
      }
      return origins;
    }),
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

/** `https://app.example.com` or `http://127.0.0.1:5173`: exactly what a browser sends as Origin. */
function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value;
  } catch {
    return false;
  }
}

export type ApiConfig = z.infer<typeof schema>;

/** Parses the API's environment once; throws naming every bad variable. */
export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  return parseEnv(schema, env, 'API');
}
