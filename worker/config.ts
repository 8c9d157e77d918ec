import { z } from 'zod';
import { parseEnv } from '../common/config';
import { DEFAULT_TASK_QUEUE } from '../common/temporal';

const schema = z.object({
  DATABASE_URL: z.string().min(1, 'DATABASE_URL is required (a postgres:// URL)'),
  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  HERALD_TASK_QUEUE: z.string().default(DEFAULT_TASK_QUEUE),
  // Channel settings (SMTP_URL, VAPID_*, TWILIO_*…) are read by each channel module: activities/channels/*.
  SMTP_URL: z.string().url('SMTP_URL must be a URL such as smtp://user:pass@host:587').optional(),
  BRAND_NAME: z.string().default('Herald'),
  LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('WARN'),
  MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).default(20),
  /** A prebuilt workflow bundle (from bundleWorkflowCode); without it the worker bundles at start. */
  WORKFLOW_BUNDLE_PATH: z.string().optional(),
});

export type WorkerConfig = z.infer<typeof schema>;

/** Parses the worker's environment once; exits naming every bad variable. */
export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  return parseEnv(schema, env, 'worker');
}
