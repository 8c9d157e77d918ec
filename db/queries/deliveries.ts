import type { DeliveryStatus, IdRange } from '../../common/types';
import type { Queryable } from './recipients';

export interface Delivery {
  id: string;
  notificationId: string;
  event: string;
  recipientKey: string;
  externalId: string | null;
  recipientName: string | null;
  channel: string;
  address: string;
  status: DeliveryStatus;
  attempts: number;
  providerMessageId: string | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
  sentAt: string | null;
}

interface DeliveryRow {
  id: string;
  notification_id: string;
  event: string;
  recipient_key: string;
  external_id: string | null;
  recipient_name: string | null;
  channel: string;
  address: string;
  status: DeliveryStatus;
  attempts: number;
  provider_message_id: string | null;
  error: string | null;
  created_at: Date;
  updated_at: Date;
  sent_at: Date | null;
}

const toDelivery = (row: DeliveryRow): Delivery => ({
  id: String(row.id),
  notificationId: row.notification_id,
  event: row.event,
  recipientKey: row.recipient_key,
  externalId: row.external_id,
  recipientName: row.recipient_name,
  channel: row.channel,
  address: row.address,
  status: row.status,
  attempts: row.attempts,
  providerMessageId: row.provider_message_id,
  error: row.error,
  createdAt: row.created_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
  sentAt: row.sent_at?.toISOString() ?? null,
});

/** The statuses a send may still change; `sent`, `failed` and `skipped` are final. */
export const OPEN_STATUSES: DeliveryStatus[] = ['pending', 'sending', 'retrying'];

export interface ResolveAudience {
  notificationId: string;
  tenantId: string;
  event: string;
  recipientIds: string[];
  groupKeys: string[];
  emails: string[];
}

/**
 * Resolves recipients, group members and raw emails into email delivery rows, in the database, without
 * loading the audience into memory. One address gets one row: people sharing an address and raw
 * emails equal to a person's address are merged. Re-running it adds nothing (the delivery key).
 */
export async function insertEmailDeliveries(db: Queryable, a: ResolveAudience): Promise<void> {
  await db.query(
    `WITH targets AS (
       SELECT r.external_id, r.name, r.email FROM recipients r
        WHERE r.tenant_id = $1 AND r.external_id = ANY($2::text[])
       UNION
       SELECT r.external_id, r.name, r.email FROM group_members m
         JOIN recipients r ON r.tenant_id = m.tenant_id AND r.external_id = m.external_id
        WHERE m.tenant_id = $1 AND m.group_key = ANY($3::text[])
     ), people AS (
       SELECT DISTINCT ON (COALESCE(lower(email), 'id:' || external_id)) external_id, name, email
         FROM targets ORDER BY COALESCE(lower(email), 'id:' || external_id), external_id
     ), raw AS (
       SELECT DISTINCT lower(e) AS email FROM unnest($4::text[]) AS e
        WHERE lower(e) NOT IN (SELECT lower(email) FROM people WHERE email IS NOT NULL)
     )
     INSERT INTO deliveries (notification_id, tenant_id, event, recipient_key, external_id, recipient_name,
                             channel, address, status, error)
     SELECT $5::uuid, $1, $6, external_id, external_id, name, 'email', COALESCE(email, ''),
            CASE WHEN email IS NULL THEN 'skipped' ELSE 'pending' END,
            CASE WHEN email IS NULL THEN 'no email address' END
       FROM people
     UNION ALL
     SELECT $5::uuid, $1, $6, 'email:' || email, NULL, NULL, 'email', email, 'pending', NULL FROM raw
     ON CONFLICT ON CONSTRAINT deliveries_delivery_key DO NOTHING`,
    [a.tenantId, a.recipientIds, a.groupKeys, a.emails, a.notificationId, a.event],
  );
}

/** Splits the open deliveries of a notification into id ranges of at most `batchSize` rows. */
export async function openDeliveryRanges(
  db: Queryable,
  notificationId: string,
  batchSize: number,
): Promise<{ ranges: IdRange[]; recipients: number; deliveries: number }> {
  const ranges = await db.query<{ from_id: string; to_id: string; size: string; label: string }>(
    `SELECT min(id) AS from_id, max(id) AS to_id, count(*) AS size,
            CASE WHEN count(*) <= 3 THEN string_agg(address, ', ' ORDER BY id)
                 ELSE (array_agg(address ORDER BY id))[1] || ' … ' || (array_agg(address ORDER BY id DESC))[1]
                      || ' (' || count(*) || ' recipients)' END AS label
     FROM (
       SELECT id, address, (row_number() OVER (ORDER BY id) - 1) / $2 AS bucket
         FROM deliveries WHERE notification_id = $1 AND status = ANY($3::text[])
     ) b GROUP BY bucket ORDER BY bucket`,
    [notificationId, batchSize, OPEN_STATUSES],
  );
  const totals = await db.query<{ recipients: string; deliveries: string }>(
    `SELECT count(DISTINCT recipient_key) AS recipients, count(*) AS deliveries FROM deliveries
      WHERE notification_id = $1`,
    [notificationId],
  );
  return {
    ranges: ranges.rows.map((r) => ({
      fromId: String(r.from_id),
      toId: String(r.to_id),
      size: Number(r.size),
      label: r.label,
    })),
    recipients: Number(totals.rows[0]?.recipients ?? 0),
    deliveries: Number(totals.rows[0]?.deliveries ?? 0),
  };
}

/** Claims the open rows of a range for a send attempt: they become `sending` and count one more attempt. */
export async function claimOpenDeliveries(
  db: Queryable,
  notificationId: string,
  channel: string,
  range: { fromId: string; toId: string },
): Promise<Delivery[]> {
  const result = await db.query<DeliveryRow>(
    `UPDATE deliveries SET status = 'sending', attempts = attempts + 1, updated_at = now()
      WHERE notification_id = $1 AND channel = $2 AND id BETWEEN $3 AND $4 AND status = ANY($5::text[])
      RETURNING *`,
    [notificationId, channel, range.fromId, range.toId, OPEN_STATUSES],
  );
  return result.rows.map(toDelivery).sort((a, b) => Number(a.id) - Number(b.id));
}

export async function markDeliverySent(db: Queryable, id: string, providerMessageId: string): Promise<void> {
  await db.query(
    `UPDATE deliveries SET status = 'sent', provider_message_id = $2, error = NULL, sent_at = now(), updated_at = now()
      WHERE id = $1`,
    [id, providerMessageId],
  );
}

export async function markDeliveryUnsent(
  db: Queryable,
  id: string,
  status: Extract<DeliveryStatus, 'failed' | 'retrying' | 'skipped'>,
  error: string,
): Promise<void> {
  await db.query(
    `UPDATE deliveries SET status = $2, error = $3, updated_at = now() WHERE id = $1 AND status <> 'sent'`,
    [id, status, error],
  );
}

/** Ends every still-open row of a range as failed (retries exhausted); returns how many. */
export async function failOpenDeliveries(
  db: Queryable,
  notificationId: string,
  range: { fromId: string; toId: string },
  reason: string,
): Promise<number> {
  const result = await db.query(
    `UPDATE deliveries SET status = 'failed', error = COALESCE(error, $4) || CASE WHEN error IS NULL THEN '' ELSE ' (' || $4 || ')' END,
            updated_at = now()
      WHERE notification_id = $1 AND id BETWEEN $2 AND $3 AND status = ANY($5::text[])`,
    [notificationId, range.fromId, range.toId, reason, OPEN_STATUSES],
  );
  return result.rowCount ?? 0;
}

export async function countDeliveriesByStatus(
  db: Queryable,
  notificationId: string,
): Promise<Partial<Record<DeliveryStatus, number>>> {
  const result = await db.query<{ status: DeliveryStatus; n: string }>(
    'SELECT status, count(*) AS n FROM deliveries WHERE notification_id = $1 GROUP BY status',
    [notificationId],
  );
  return Object.fromEntries(result.rows.map((r) => [r.status, Number(r.n)]));
}

export async function listDeliveriesOfNotification(
  db: Queryable,
  notificationId: string,
  limit = 1000,
): Promise<Delivery[]> {
  const result = await db.query<DeliveryRow>(
    'SELECT * FROM deliveries WHERE notification_id = $1 ORDER BY id LIMIT $2',
    [notificationId, limit],
  );
  return result.rows.map(toDelivery);
}

export interface DeliveryFilter {
  event?: string;
  status?: string;
  recipient?: string;
  notificationId?: string;
  channel?: string;
  since?: Date;
  until?: Date;
}

/** The delivery log, newest first, keyset-paginated on id. */
export async function listDeliveries(
  db: Queryable,
  tenantId: string,
  filter: DeliveryFilter,
  page: { limit: number; beforeId?: string },
): Promise<Delivery[]> {
  const result = await db.query<DeliveryRow>(
    `SELECT * FROM deliveries
      WHERE tenant_id = $1
        AND ($2::text IS NULL OR event = $2)
        AND ($3::text IS NULL OR status = $3)
        AND ($4::text IS NULL OR recipient_key = $4 OR lower(address) = lower($4))
        AND ($5::uuid IS NULL OR notification_id = $5)
        AND ($6::text IS NULL OR channel = $6)
        AND ($7::timestamptz IS NULL OR created_at >= $7)
        AND ($8::timestamptz IS NULL OR created_at < $8)
        AND ($9::bigint IS NULL OR id < $9)
      ORDER BY id DESC LIMIT $10`,
    [
      tenantId,
      filter.event ?? null,
      filter.status ?? null,
      filter.recipient ?? null,
      filter.notificationId ?? null,
      filter.channel ?? null,
      filter.since ?? null,
      filter.until ?? null,
      page.beforeId ?? null,
      page.limit,
    ],
  );
  return result.rows.map(toDelivery);
}
