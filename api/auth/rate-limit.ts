import type { Context } from 'hono';
import { countRequest, type RateWindow } from '../../db/queries/rate-limits';
import type { AppEnv } from '../deps';
import { HttpError } from '../errors';
import { rateLimitBucket, type Principal } from './principal';

/**
 * Per-key request limit, `RATE_LIMIT_PER_MINUTE` (0: off), counted in PostgreSQL so that several
 * API processes share it. Sets the IETF `RateLimit-*` headers on every answer and `Retry-After`
 * on a 429.
 */
export async function enforceRateLimit(
  c: Context<AppEnv>,
  principal: Principal,
  /** The request counted already (an API key's lookup counts it in the same statement). */
  counted?: RateWindow,
): Promise<void> {
  const limit = c.var.deps.config.RATE_LIMIT_PER_MINUTE;
  if (limit === 0) return;
  const window = counted ?? (await countRequest(c.var.deps.db, rateLimitBucket(principal)));
  const resetSeconds = Math.max(1, Math.ceil((window.resetAt.getTime() - Date.now()) / 1000));
  c.header('RateLimit-Limit', String(limit));
  c.header('RateLimit-Remaining', String(Math.max(0, limit - window.count)));
  c.header('RateLimit-Reset', String(resetSeconds));
  c.header('RateLimit-Policy', `${limit};w=60`);
  if (window.count > limit) {
    throw new HttpError(
      429,
      'rate_limited',
      `more than ${limit} requests a minute with this key`,
      [
        {
          path: 'Authorization',
          message: `rate limit of ${limit} a minute reached; retry in ${resetSeconds} s`,
        },
      ],
      { 'Retry-After': String(resetSeconds) },
    );
  }
}
