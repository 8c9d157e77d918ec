import type { Queryable } from './recipients';
import { prepared } from '../prepared';

export interface RateWindow {
  /** Requests counted in the current window, this one included. */
  count: number;
  /** When the current window ends. */
  resetAt: Date;
}

/**
 * Counts one request for `principal` in its fixed one-minute window, started by the window's first
 * request. One statement on one row: concurrent requests from every API process serialise on it,
 * so together they never count past the limit.
 */
export async function countRequest(db: Queryable, principal: string): Promise<RateWindow> {
  const result = await db.query<RateWindowRow>(
    prepared(
      `INSERT INTO api_rate_limits AS r (principal, window_start, count) VALUES ($1, now(), 1) ${COUNT_IN_WINDOW}`,
    ),
    [principal],
  );
  return toRateWindow(result.rows[0]!);
}

/**
 * The upsert's tail: restart a window that ended, else count one more. Shared with the API-key
 * lookup, which counts the request in the same statement (db/queries/api-keys.ts).
 */
export const COUNT_IN_WINDOW = `ON CONFLICT (principal) DO UPDATE SET
       window_start = CASE WHEN r.window_start <= now() - interval '1 minute' THEN now() ELSE r.window_start END,
       count = CASE WHEN r.window_start <= now() - interval '1 minute' THEN 1 ELSE r.count + 1 END
     RETURNING count, window_start + interval '1 minute' AS reset_at`;

export interface RateWindowRow {
  count: number;
  reset_at: Date;
}

export const toRateWindow = (row: RateWindowRow): RateWindow => ({ count: row.count, resetAt: row.reset_at });

/** Windows that ended long ago (retention keeps the table small). */
export async function deleteExpiredRateWindows(db: Queryable): Promise<number> {
  const result = await db.query(
    `DELETE FROM api_rate_limits WHERE window_start < now() - interval '10 minutes'`,
  );
  return result.rowCount ?? 0;
}
