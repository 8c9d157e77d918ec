import type { Audience } from '../../common/types';
import type { Queryable } from './recipients';

export type DeadlineStatus = 'open' | 'done';

/** An item a backend registered with a due time; the overdue workflow notifies about it while open and past due. */
export interface Deadline {
  tenantId: string;
  key: string;
  dueAt: string;
  event: string;
  to: Audience;
  data: Record<string, unknown>;
  status: DeadlineStatus;
  doneAt: string | null;
  lastNotifiedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

interface DeadlineRow {
  tenant_id: string;
  key: string;
  due_at: Date;
  event: string;
  audience: Audience;
  data: Record<string, unknown>;
  status: DeadlineStatus;
  done_at: Date | null;
  last_notified_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const toDeadline = (row: DeadlineRow): Deadline => ({
  tenantId: row.tenant_id,
  key: row.key,
  dueAt: row.due_at.toISOString(),
  event: row.event,
  to: row.audience,
  data: row.data,
  status: row.status,
  doneAt: row.done_at?.toISOString() ?? null,
  lastNotifiedAt: row.last_notified_at?.toISOString() ?? null,
  createdAt: row.created_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
});

/** Template variables an overdue item gets for free; the item's own data overrides them. */
export function overdueVariables(dueAt: string, now: Date): Record<string, unknown> {
  return {
    dueAt: `${dueAt.slice(0, 16).replace('T', ' ')} UTC`,
    hoursOverdue: Math.max(0, Math.floor((now.getTime() - Date.parse(dueAt)) / 3_600_000)),
  };
}

export interface DeadlineInput {
  dueAt: Date;
  event: string;
  to: Audience;
  data: Record<string, unknown>;
}

/**
 * Registers or replaces an item; a done item is open again. A new due time forgets the last
 * notification (the item is overdue anew); otherwise the repeat interval still counts from it.
 */
export async function upsertDeadline(
  db: Queryable,
  tenantId: string,
  key: string,
  input: DeadlineInput,
): Promise<{ deadline: Deadline; created: boolean }> {
  const result = await db.query<DeadlineRow & { created: boolean }>(
    `INSERT INTO deadlines (tenant_id, key, due_at, event, audience, data)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (tenant_id, key) DO UPDATE SET
       due_at = EXCLUDED.due_at,
       event = EXCLUDED.event,
       audience = EXCLUDED.audience,
       data = EXCLUDED.data,
       status = 'open',
       done_at = NULL,
       last_notified_at = CASE WHEN deadlines.due_at = EXCLUDED.due_at THEN deadlines.last_notified_at END,
       updated_at = now()
     RETURNING *, (xmax = 0) AS created`,
    [tenantId, key, input.dueAt, input.event, JSON.stringify(input.to), JSON.stringify(input.data)],
  );
  const row = result.rows[0]!;
  return { deadline: toDeadline(row), created: row.created };
}

export async function getDeadline(db: Queryable, tenantId: string, key: string): Promise<Deadline | null> {
  const result = await db.query<DeadlineRow>('SELECT * FROM deadlines WHERE tenant_id = $1 AND key = $2', [
    tenantId,
    key,
  ]);
  return result.rows[0] ? toDeadline(result.rows[0]) : null;
}

/** Closes an item (idempotent: a done item keeps its first `done_at`); null when there is no such item. */
export async function markDeadlineDone(
  db: Queryable,
  tenantId: string,
  key: string,
): Promise<Deadline | null> {
  const result = await db.query<DeadlineRow>(
    `UPDATE deadlines SET status = 'done', done_at = COALESCE(done_at, now()), updated_at = now()
     WHERE tenant_id = $1 AND key = $2
     RETURNING *`,
    [tenantId, key],
  );
  return result.rows[0] ? toDeadline(result.rows[0]) : null;
}

export interface OverdueFilter {
  /** Items due before this time are overdue. */
  now: Date;
  /** Items notified after this time are not due for another notification yet. */
  notifiedBefore: Date;
  tenantId?: string;
  keyPrefix?: string;
}

export interface OverdueCursor {
  tenantId: string;
  key: string;
}

/** Open items past due whose last notification (if any) is old enough; keyset-paginated on (tenant, key). */
export async function listOverdueDeadlines(
  db: Queryable,
  filter: OverdueFilter,
  page: { limit: number; after?: OverdueCursor },
): Promise<Deadline[]> {
  const result = await db.query<DeadlineRow>(
    `SELECT * FROM deadlines
     WHERE status = 'open' AND due_at < $1
       AND (last_notified_at IS NULL OR last_notified_at <= $2)
       AND ($3::text IS NULL OR tenant_id = $3)
       AND ($4::text IS NULL OR starts_with(key, $4))
       AND ($5::text IS NULL OR (tenant_id, key) > ($5, $6::text))
     ORDER BY tenant_id, key
     LIMIT $7`,
    [
      filter.now,
      filter.notifiedBefore,
      filter.tenantId ?? null,
      filter.keyPrefix ?? null,
      page.after?.tenantId ?? null,
      page.after?.key ?? null,
      page.limit,
    ],
  );
  return result.rows.map(toDeadline);
}

/** Records that an item was notified about at `at` (the overdue run's time). */
export async function markDeadlineNotified(
  db: Queryable,
  tenantId: string,
  key: string,
  at: Date,
): Promise<void> {
  await db.query(
    `UPDATE deadlines SET last_notified_at = GREATEST(last_notified_at, $3), updated_at = now()
     WHERE tenant_id = $1 AND key = $2`,
    [tenantId, key, at],
  );
}
