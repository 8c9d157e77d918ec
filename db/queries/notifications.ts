import type { NotificationRequest, NotificationStatus, Priority } from '../../common/types';
import type { Queryable } from './recipients';

export interface NotificationRecord {
  id: string;
  tenantId: string;
  event: string;
  priority: Priority;
  idempotencyKey: string | null;
  requestHash: string;
  request: NotificationRequest;
  status: NotificationStatus;
  workflowId: string;
  recipientCount: number | null;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
}

interface NotificationRow {
  id: string;
  tenant_id: string;
  event: string;
  priority: Priority;
  idempotency_key: string | null;
  request_hash: string;
  request: NotificationRequest;
  status: NotificationStatus;
  workflow_id: string;
  recipient_count: number | null;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
}

const toRecord = (row: NotificationRow): NotificationRecord => ({
  id: row.id,
  tenantId: row.tenant_id,
  event: row.event,
  priority: row.priority,
  idempotencyKey: row.idempotency_key,
  requestHash: row.request_hash,
  request: row.request,
  status: row.status,
  workflowId: row.workflow_id,
  recipientCount: row.recipient_count,
  createdAt: row.created_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
  completedAt: row.completed_at?.toISOString() ?? null,
});

export interface NewNotification {
  id: string;
  tenantId: string;
  event: string;
  priority: Priority;
  idempotencyKey: string | null;
  requestHash: string;
  request: NotificationRequest;
  workflowId: string;
}

/**
 * Inserts a notification unless its idempotency key is taken. Concurrent callers with the same key
 * serialise on the unique index: exactly one gets `inserted: true`, the others get the winner's row.
 */
export async function insertNotificationOnce(
  db: Queryable,
  n: NewNotification,
): Promise<{ inserted: boolean; record: NotificationRecord }> {
  const inserted = await db.query<NotificationRow>(
    `INSERT INTO notifications (id, tenant_id, event, priority, idempotency_key, request_hash, request, workflow_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
     RETURNING *`,
    [
      n.id,
      n.tenantId,
      n.event,
      n.priority,
      n.idempotencyKey,
      n.requestHash,
      JSON.stringify(n.request),
      n.workflowId,
    ],
  );
  if (inserted.rows[0]) return { inserted: true, record: toRecord(inserted.rows[0]) };
  const existing = await db.query<NotificationRow>(
    'SELECT * FROM notifications WHERE tenant_id = $1 AND idempotency_key = $2',
    [n.tenantId, n.idempotencyKey],
  );
  if (!existing.rows[0]) throw new Error('idempotency key conflict but no notification found');
  return { inserted: false, record: toRecord(existing.rows[0]) };
}

/**
 * `insertNotificationOnce` for many notifications with keys, in two statements: one insert, one read
 * of the rows whose key was taken. Answers in the order of `rows`. The rows are inserted in key order,
 * so two concurrent calls with overlapping keys wait on each other in one order (no deadlock); keys
 * must be distinct within one call.
 */
export async function insertNotificationsOnce(
  db: Queryable,
  tenantId: string,
  rows: (Omit<NewNotification, 'tenantId' | 'idempotencyKey'> & { idempotencyKey: string })[],
): Promise<{ inserted: boolean; record: NotificationRecord }[]> {
  if (rows.length === 0) return [];
  const sorted = [...rows].sort((a, b) => (a.idempotencyKey < b.idempotencyKey ? -1 : 1));
  const inserted = await db.query<NotificationRow>(
    `INSERT INTO notifications (id, tenant_id, event, priority, idempotency_key, request_hash, request, workflow_id)
     SELECT id, $1, event, priority, idempotency_key, request_hash, request::jsonb, workflow_id
       FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
            AS t(id, event, priority, idempotency_key, request_hash, request, workflow_id)
     ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
     RETURNING *`,
    [
      tenantId,
      sorted.map((n) => n.id),
      sorted.map((n) => n.event),
      sorted.map((n) => n.priority),
      sorted.map((n) => n.idempotencyKey),
      sorted.map((n) => n.requestHash),
      sorted.map((n) => JSON.stringify(n.request)),
      sorted.map((n) => n.workflowId),
    ],
  );
  const byKey = new Map<string, { inserted: boolean; record: NotificationRecord }>();
  for (const row of inserted.rows) byKey.set(row.idempotency_key!, { inserted: true, record: toRecord(row) });
  const taken = rows.map((n) => n.idempotencyKey).filter((key) => !byKey.has(key));
  if (taken.length > 0) {
    const existing = await db.query<NotificationRow>(
      'SELECT * FROM notifications WHERE tenant_id = $1 AND idempotency_key = ANY($2::text[])',
      [tenantId, taken],
    );
    for (const row of existing.rows)
      byKey.set(row.idempotency_key!, { inserted: false, record: toRecord(row) });
  }
  return rows.map((n) => {
    const outcome = byKey.get(n.idempotencyKey);
    if (!outcome) throw new Error('idempotency key conflict but no notification found');
    return outcome;
  });
}

export async function getNotification(
  db: Queryable,
  tenantId: string,
  id: string,
): Promise<NotificationRecord | null> {
  const result = await db.query<NotificationRow>(
    'SELECT * FROM notifications WHERE tenant_id = $1 AND id = $2',
    [tenantId, id],
  );
  return result.rows[0] ? toRecord(result.rows[0]) : null;
}

/**
 * The tenant of a notification, for the signed acknowledgement link only: its signature, not a
 * key, proves the caller may act on this notification.
 */
export async function getNotificationTenant(db: Queryable, id: string): Promise<string | null> {
  const result = await db.query<{ tenant_id: string }>('SELECT tenant_id FROM notifications WHERE id = $1', [
    id,
  ]);
  return result.rows[0]?.tenant_id ?? null;
}

export async function deleteNotification(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM notifications WHERE id = $1', [id]);
}

export async function markNotificationRunning(
  db: Queryable,
  id: string,
  recipientCount: number,
): Promise<void> {
  await db.query(
    `UPDATE notifications SET status = 'running', recipient_count = $2, updated_at = now()
     WHERE id = $1 AND status IN ('accepted', 'running')`,
    [id, recipientCount],
  );
}

export async function markNotificationFinished(
  db: Queryable,
  id: string,
  status: Extract<NotificationStatus, 'completed' | 'failed' | 'cancelled'>,
): Promise<void> {
  await db.query(
    `UPDATE notifications SET status = $2, updated_at = now(), completed_at = COALESCE(completed_at, now())
     WHERE id = $1`,
    [id, status],
  );
}

export interface NotificationFilter {
  event?: string;
  status?: string;
  recipient?: string;
  since?: Date;
  until?: Date;
}

/** Newest first, keyset-paginated on (created_at, id). */
export async function listNotifications(
  db: Queryable,
  tenantId: string,
  filter: NotificationFilter,
  page: { limit: number; before?: { createdAt: Date; id: string } },
): Promise<NotificationRecord[]> {
  const result = await db.query<NotificationRow>(
    `SELECT n.* FROM notifications n
     WHERE n.tenant_id = $1
       AND ($2::text IS NULL OR n.event = $2)
       AND ($3::text IS NULL OR n.status = $3)
       AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM deliveries d WHERE d.notification_id = n.id AND d.recipient_key = $4))
       AND ($5::timestamptz IS NULL OR n.created_at >= $5)
       AND ($6::timestamptz IS NULL OR n.created_at < $6)
       AND ($7::timestamptz IS NULL OR (n.created_at, n.id) < ($7, $8::uuid))
     ORDER BY n.created_at DESC, n.id DESC LIMIT $9`,
    [
      tenantId,
      filter.event ?? null,
      filter.status ?? null,
      filter.recipient ?? null,
      filter.since ?? null,
      filter.until ?? null,
      page.before?.createdAt ?? null,
      page.before?.id ?? null,
      page.limit,
    ],
  );
  return result.rows.map(toRecord);
}

export async function countNotifications(db: Queryable): Promise<number> {
  const result = await db.query<{ n: string }>('SELECT count(*) AS n FROM notifications');
  return Number(result.rows[0]?.n ?? 0);
}
