import type { EventRouting } from '../../common/event-routing';
import type { Queryable } from './recipients';

/** A tenant's default audience of one event, as stored. */
export interface StoredEventRouting extends EventRouting {
  event: string;
  updatedAt: string;
}

interface Row {
  tenant_id: string;
  event: string;
  groups: string[];
  recipients: string[];
  updated_at: Date;
}

const toRouting = (row: Row): StoredEventRouting => ({
  event: row.event,
  groups: row.groups,
  recipients: row.recipients,
  updatedAt: row.updated_at.toISOString(),
});

const COLUMNS = 'tenant_id, event, groups, recipients, updated_at';

export async function getEventRouting(
  db: Queryable,
  tenantId: string,
  event: string,
): Promise<StoredEventRouting | null> {
  const result = await db.query<Row>(
    `SELECT ${COLUMNS} FROM event_routing WHERE tenant_id = $1 AND event = $2`,
    [tenantId, event],
  );
  return result.rows[0] ? toRouting(result.rows[0]) : null;
}

/** A tenant's routed events, by event name. */
export async function listEventRoutings(db: Queryable, tenantId: string): Promise<StoredEventRouting[]> {
  const result = await db.query<Row>(
    `SELECT ${COLUMNS} FROM event_routing WHERE tenant_id = $1 ORDER BY event`,
    [tenantId],
  );
  return result.rows.map(toRouting);
}

/** Every tenant's routed events (for herald doctor), by tenant then event. */
export async function listAllEventRoutings(
  db: Queryable,
): Promise<(StoredEventRouting & { tenantId: string })[]> {
  const result = await db.query<Row>(`SELECT ${COLUMNS} FROM event_routing ORDER BY tenant_id, event`);
  return result.rows.map((row) => ({ tenantId: row.tenant_id, ...toRouting(row) }));
}

/** Sets an event's default audience whole; `created` says whether it had none before. */
export async function putEventRouting(
  db: Queryable,
  tenantId: string,
  event: string,
  routing: EventRouting,
): Promise<{ routing: StoredEventRouting; created: boolean }> {
  const result = await db.query<Row & { created: boolean }>(
    `INSERT INTO event_routing (tenant_id, event, groups, recipients) VALUES ($1, $2, $3, $4)
     ON CONFLICT (tenant_id, event) DO UPDATE
       SET groups = EXCLUDED.groups, recipients = EXCLUDED.recipients, updated_at = now()
     RETURNING ${COLUMNS}, (xmax = 0) AS created`,
    [tenantId, event, routing.groups, routing.recipients],
  );
  const row = result.rows[0]!;
  return { routing: toRouting(row), created: row.created };
}

/** Removes an event's default audience; false when it had none. */
export async function deleteEventRouting(db: Queryable, tenantId: string, event: string): Promise<boolean> {
  const result = await db.query('DELETE FROM event_routing WHERE tenant_id = $1 AND event = $2', [
    tenantId,
    event,
  ]);
  return (result.rowCount ?? 0) > 0;
}
