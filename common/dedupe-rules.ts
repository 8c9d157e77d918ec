import { z } from 'zod';
import { parseDuration } from './duration';

/** The longest dedupe window or throttle period: a rule is about bursts, not history. */
export const MAX_RULE_WINDOW_MS = 30 * 86_400_000;

const window = z.string().refine((text) => {
  const ms = parseDuration(text);
  return ms !== null && ms <= MAX_RULE_WINDOW_MS;
}, 'a duration such as 90s, 10m, 1h or 7d, at most 30d');

/**
 * `key` is Liquid over the notification's data (e.g. `{{ ticketId }}`); a second notification of the
 * same event and key to the same person within `window` is suppressed as a duplicate.
 */
export const dedupeRuleSchema = z.object({ key: z.string().min(1).max(500), window }).strict();

/** At most `max` notifications of the event per recipient in each `per`; the rest are suppressed. */
export const throttleRuleSchema = z
  .object({ max: z.number().int().min(1).max(10_000), per: window })
  .strict();

export type DedupeRule = z.infer<typeof dedupeRuleSchema>;
export type ThrottleRule = z.infer<typeof throttleRuleSchema>;
