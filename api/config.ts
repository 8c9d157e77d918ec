import { z } from 'zod';
import { parseEnv } from '../common/config';
import { DEFAULT_TASK_QUEUE } from '../common/temporal';

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
  BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(256 * 1024),
  BATCH_SIZE: z.coerce.number().int().min(1).max(1000).default(200),
  MAX_CONCURRENT_BATCHES: z.coerce.number().int().min(1).max(100).default(4),
  SEND_HEARTBEAT_TIMEOUT_MS: ms(30_000),
  EMAIL_RETRY_INITIAL_INTERVAL_MS: ms(5_000),
  EMAIL_RETRY_BACKOFF_COEFFICIENT: z.coerce.number().min(1).default(2),
  EMAIL_RETRY_MAX_INTERVAL_MS: ms(10 * 60_000),
  EMAIL_RETRY_MAX_ATTEMPTS: z.coerce.number().int().min(1).default(8),
});

export type ApiConfig = z.infer<typeof schema>;

/** Parses the API's environment once; throws naming every bad variable. */
export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  return parseEnv(schema, env, 'API');
}
