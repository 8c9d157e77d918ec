import type { Pool, PoolClient } from 'pg';

type Queryable = Pool | PoolClient;

/** Where a page of digest recipients starts: after this recipient, in (tenant, external id) order. */
export interface DigestCursor {
  tenantId: string;
  externalId: string;
}

/** A recipient with unsent digest items, and what decides when and where the digest goes. */
export interface DigestRecipient {
  tenantId: string;
  externalId: string;
  name: string | null;
  /** The address of the recipient's latest digested email delivery (an email override), else their email. */
  email: string | null;
  timezone: string | null;
  digest: unknown;
  /** When the last digest went out (its period's due instant); null before the first. */
  lastSentAt: string | null;
}

export interface DigestItem {
  id: string;
  notificationId: string;
  event: string;
  channel: string;
  data: Record<string, unknown>;
  createdAt: string;
}

/**
 * One page of recipients that have unsent digest items created at or before `cutoff`, in
 * (tenant, external id) order after `after`. Walks the partial index of pending items.
 */
export async function digestRecipientsPage(
  db: Queryable,
  input: { cutoff: string; after: DigestCursor | null; limit: number; tenantId?: string },
): Promise<DigestRecipient[]> {
  const { rows } = await db.query<{
    tenant_id: string;
    external_id: string;
    name: string | null;
    email: string | null;
    timezone: string | null;
    digest: unknown;
    digest_last_sent_at: Date | null;
  }>(
    `WITH pending AS (
       SELECT DISTINCT i.tenant_id, i.external_id
         FROM digest_items i
        WHERE i.sent_at IS NULL AND i.created_at <= $1::timestamptz
          AND ($2::text IS NULL OR (i.tenant_id, i.external_id) > ($2::text, $3::text))
          AND ($4::text IS NULL OR i.tenant_id = $4::text)
        ORDER BY i.tenant_id, i.external_id
        LIMIT $5
     )
     SELECT r.tenant_id, r.external_id, r.name, r.timezone, r.digest, r.digest_last_sent_at,
            COALESCE((SELECT d.address FROM digest_items i
                        JOIN deliveries d ON d.id = i.delivery_id
                       WHERE i.tenant_id = r.tenant_id AND i.external_id = r.external_id
                         AND i.sent_at IS NULL AND i.channel = 'email' AND d.address <> ''
                       ORDER BY i.id DESC LIMIT 1), r.email) AS email
       FROM pending p
       JOIN recipients r ON r.tenant_id = p.tenant_id AND r.external_id = p.external_id
      ORDER BY r.tenant_id, r.external_id`,
    [
      input.cutoff,
      input.after?.tenantId ?? null,
      input.after?.externalId ?? null,
      input.tenantId ?? null,
      input.limit,
    ],
  );
  return rows.map((r) => ({
    tenantId: r.tenant_id,
    externalId: r.external_id,
    name: r.name,
    email: r.email,
    timezone: r.timezone,
    digest: r.digest,
    lastSentAt: r.digest_last_sent_at?.toISOString() ?? null,
  }));
}

/** The class of the advisory locks that keep one recipient's digest to one run at a time ('dgst'). */
const DIGEST_LOCK_CLASS = 0x64677374;

/**
 * Locks one recipient's unsent items created at or before `cutoff` for this transaction. A
 * recipient another run is sending to right now (its advisory lock is held) yields nothing, and
 * locked items are skipped, so no item can go into two digests and a recipient gets one at a time.
 */
export async function claimDigestItems(
  client: PoolClient,
  input: { tenantId: string; externalId: string; cutoff: string },
): Promise<DigestItem[]> {
  const lock = await client.query<{ locked: boolean }>(
    `SELECT pg_try_advisory_xact_lock($1::int, hashtext($2 || '/' || $3)) AS locked`,
    [DIGEST_LOCK_CLASS, input.tenantId, input.externalId],
  );
  if (!lock.rows[0]?.locked) return [];
  const { rows } = await client.query<{
    id: string;
    notification_id: string;
    event: string;
    channel: string;
    data: Record<string, unknown>;
    created_at: Date;
  }>(
    `SELECT id::text, notification_id, event, channel, data, created_at
       FROM digest_items
      WHERE tenant_id = $1 AND external_id = $2 AND sent_at IS NULL AND created_at <= $3::timestamptz
      ORDER BY created_at, id
      FOR UPDATE SKIP LOCKED`,
    [input.tenantId, input.externalId, input.cutoff],
  );
  return rows.map((r) => ({
    id: r.id,
    notificationId: r.notification_id,
    event: r.event,
    channel: r.channel,
    data: r.data ?? {},
    createdAt: r.created_at.toISOString(),
  }));
}

/** Marks exactly these items sent (once: items already sent stay as they were); returns the ids marked. */
export async function markDigestItemsSent(db: Queryable, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<{ id: string }>(
    `UPDATE digest_items SET sent_at = now() WHERE id = ANY($1::bigint[]) AND sent_at IS NULL RETURNING id::text`,
    [ids],
  );
  return rows.map((r) => r.id);
}

/**
 * Records that the recipient's digest of the period starting at `periodStart` goes out now, unless
 * one already did: false then. Row-locked, so two runs in one period cannot both send.
 */
export async function recordDigestSent(
  client: PoolClient,
  input: { tenantId: string; externalId: string; periodStart: string; sentAt: string },
): Promise<boolean> {
  const { rowCount } = await client.query(
    `UPDATE recipients SET digest_last_sent_at = $4::timestamptz
      WHERE tenant_id = $1 AND external_id = $2
        AND (digest_last_sent_at IS NULL OR digest_last_sent_at < $3::timestamptz)`,
    [input.tenantId, input.externalId, input.periodStart, input.sentAt],
  );
  return (rowCount ?? 0) > 0;
}
