import { z } from 'zod';

/** The webhook channel's variables, parsed with the worker's configuration (HERALD_SECRET_KEY is shared). */
export const webhookSettings = {
  /** How long an endpoint may take to answer before the attempt counts as a temporary failure. */
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(1).default(10_000),
  /** Posts in flight at once. */
  WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).default(10),
};
