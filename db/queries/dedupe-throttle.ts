import type { Queryable } from './recipients';

/** Where a rule applies: one tenant's event; `recipientKeys` are the people of one page. */
export interface RuleScope {
  tenantId: string;
  event: string;
  notificationId: string;
}

/**
 * The next page of people (recipient keys: an externalId, or `email:…`/`phone:…` for a raw address)
 * of a notification level that still have a pending delivery.
 */
export async function pendingRecipientKeysPage(
  db: Queryable,
  notificationId: string,
  level: number,
  afterKey: string,
  limit: number,
): Promise<string[]> {
  const result = await db.query<{ recipient_key: string }>(
    `SELECT DISTINCT recipient_key FROM deliveries
      WHERE notification_id = $1 AND level = $2 AND status = 'pending' AND recipient_key > $3
      ORDER BY recipient_key LIMIT $4`,
    [notificationId, level, afterKey, limit],
  );
  return result.rows.map((r) => r.recipient_key);
}

/**
 * Claims `dedupeKey` for each person, in one statement: a person with no claim, or an expired one,
 * is claimed for this notification; otherwise the claim stays with its holder. Returns the holder of
 * each person's claim after the statement (this notification's id: deliver; another: a duplicate of
 * it). Concurrent claims of one person serialise on its row, and a retry finds its own claim.
 */
export async function claimDedupeKeys(
  db: Queryable,
  scope: RuleScope,
  dedupeKey: string,
  windowMs: number,
  recipientKeys: string[],
): Promise<Map<string, string>> {
  if (recipientKeys.length === 0) return new Map();
  // Sorted and distinct: rows are locked in one order (no deadlock between concurrent pages), once each.
  const result = await db.query<{ recipient_key: string; notification_id: string }>(
    `INSERT INTO dedupe_claims AS c (tenant_id, event, dedupe_key, recipient_key, notification_id, expires_at)
     SELECT $1, $2, $3, k, $4::uuid, now() + $5::float8 * interval '1 millisecond'
       FROM (SELECT DISTINCT unnest($6::text[]) AS k) keys ORDER BY k
     ON CONFLICT (tenant_id, event, dedupe_key, recipient_key) DO UPDATE SET
       notification_id = CASE WHEN c.expires_at <= now() THEN excluded.notification_id ELSE c.notification_id END,
       expires_at = CASE WHEN c.expires_at <= now() THEN excluded.expires_at ELSE c.expires_at END
     RETURNING recipient_key, notification_id`,
    [scope.tenantId, scope.event, dedupeKey, scope.notificationId, windowMs, recipientKeys],
  );
  return new Map(result.rows.map((r) => [r.recipient_key, r.notification_id]));
}

/**
 * Counts this notification in each person's throttle window, in one statement, and returns the
 * people it may go to. A window ends `perMs` after the first notification it counted (a fixed
 * window); the next notification after that starts a new one. A person whose window already holds
 * `max` is not counted and not returned. People this notification was counted for before (a retried
 * activity) are returned without being counted again.
 */
export async function countThrottled(
  db: Queryable,
  scope: RuleScope,
  max: number,
  perMs: number,
  recipientKeys: string[],
): Promise<Set<string>> {
  if (recipientKeys.length === 0) return new Set();
  const result = await db.query<{ recipient_key: string }>(
    `WITH keys AS (
       SELECT DISTINCT unnest($6::text[]) AS k
     ), mine AS (
       SELECT h.recipient_key FROM throttle_hits h
        WHERE h.tenant_id = $1 AND h.event = $2 AND h.notification_id = $3::uuid
          AND h.recipient_key = ANY($6::text[])
     ), counted AS (
       INSERT INTO throttle_windows AS w (tenant_id, event, recipient_key, count, ends_at)
       SELECT $1, $2, k, 1, now() + $5::float8 * interval '1 millisecond'
         FROM keys WHERE k NOT IN (SELECT recipient_key FROM mine) ORDER BY k
       ON CONFLICT (tenant_id, event, recipient_key) DO UPDATE SET
         count = CASE WHEN w.ends_at <= now() THEN 1 ELSE w.count + 1 END,
         ends_at = CASE WHEN w.ends_at <= now() THEN excluded.ends_at ELSE w.ends_at END
       WHERE w.ends_at <= now() OR w.count < $4
       RETURNING w.recipient_key, w.ends_at
     ), recorded AS (
       INSERT INTO throttle_hits (tenant_id, event, recipient_key, notification_id, expires_at)
       SELECT $1, $2, recipient_key, $3::uuid, ends_at FROM counted
       ON CONFLICT DO NOTHING
     )
     SELECT recipient_key FROM counted UNION SELECT recipient_key FROM mine`,
    [scope.tenantId, scope.event, scope.notificationId, max, perMs, recipientKeys],
  );
  return new Set(result.rows.map((r) => r.recipient_key));
}

/**
 * Suppresses every delivery of these people in a notification level that would still go out: the
 * pending ones and the failover standbys (whose error starts with `standbyPrefix`), with a reason.
 */
export async function suppressRecipients(
  db: Queryable,
  notificationId: string,
  level: number,
  decisions: { recipientKey: string; reason: string }[],
  standbyPrefix: string,
): Promise<number> {
  if (decisions.length === 0) return 0;
  const result = await db.query(
    `UPDATE deliveries d SET status = 'suppressed', error = s.reason, updated_at = now()
       FROM unnest($3::text[], $4::text[]) AS s(recipient_key, reason)
      WHERE d.notification_id = $1 AND d.level = $2 AND d.recipient_key = s.recipient_key
        AND (d.status = 'pending' OR (d.status = 'skipped' AND starts_with(d.error, $5)))`,
    [
      notificationId,
      level,
      decisions.map((d) => d.recipientKey),
      decisions.map((d) => d.reason),
      standbyPrefix,
    ],
  );
  return result.rowCount ?? 0;
}

/**
 * Deletes up to `limit` expired rows of each rule table; returns how many went in all. Each row is
 * checked again as it is deleted, so a claim renewed meanwhile stays.
 */
export async function deleteExpiredRuleRows(db: Queryable, limit: number): Promise<number> {
  const result = await db.query<{ deleted: string }>(
    `WITH claims AS (
       DELETE FROM dedupe_claims c
        WHERE (tenant_id, event, dedupe_key, recipient_key) IN (
                SELECT tenant_id, event, dedupe_key, recipient_key FROM dedupe_claims
                 WHERE expires_at <= now() LIMIT $1)
          AND c.expires_at <= now()
       RETURNING 1
     ), windows AS (
       DELETE FROM throttle_windows w
        WHERE (tenant_id, event, recipient_key) IN (
                SELECT tenant_id, event, recipient_key FROM throttle_windows WHERE ends_at <= now() LIMIT $1)
          AND w.ends_at <= now()
       RETURNING 1
     ), hits AS (
       DELETE FROM throttle_hits h
        WHERE (tenant_id, event, notification_id, recipient_key) IN (
                SELECT tenant_id, event, notification_id, recipient_key FROM throttle_hits
                 WHERE expires_at <= now() LIMIT $1)
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM claims) + (SELECT count(*) FROM windows) + (SELECT count(*) FROM hits)
            AS deleted`,
    [limit],
  );
  return Number(result.rows[0]?.deleted ?? 0);
}
