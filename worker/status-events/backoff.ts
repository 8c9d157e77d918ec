/** How the dispatcher retries an event an endpoint did not take. */
export interface StatusEventRetry {
  /** Wait after the first failure; doubled after each further one. */
  initialMs: number;
  /** The longest wait between two attempts. */
  maxMs: number;
  /** Attempts in all (per replay) before the event is given up as failed. */
  maxAttempts: number;
}

/**
 * When to try again after the `failures`-th failed attempt (1 for the first), or null to give up.
 * A receiver's Retry-After is honoured when it asks for longer, up to `maxMs`.
 */
export function nextAttemptAt(
  failures: number,
  retry: StatusEventRetry,
  now: Date,
  retryAfterMs?: number,
): Date | null {
  if (failures >= retry.maxAttempts) return null;
  const backoff = Math.min(retry.initialMs * 2 ** Math.min(failures - 1, 40), retry.maxMs);
  const wait = Math.min(Math.max(backoff, retryAfterMs ?? 0), retry.maxMs);
  return new Date(now.getTime() + wait);
}
