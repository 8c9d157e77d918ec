import type { Pool } from 'pg';
import type { Queryable } from './recipients';
import type { StatusEventType } from './status-events';

/**
 * A tenant's events endpoint: where its status events are POSTed. `storedUrl` is sealed with the
 * secret box (open it with `openEndpointUrl`); `sealedSecrets` are `whsec_` secrets, sealed, newest
 * first. `types` null: every event type.
 */
export interface EventEndpoint {
  id: string;
  tenantId: string;
  storedUrl: string;
  sealedSecrets: string[];
  types: StatusEventType[] | null;
  description: string | null;
  createdAt: string;
  updatedAt: string;
}

interface EventEndpointRow {
  id: string;
  tenant_id: string;
  url: string;
  secrets: string[];
  types: StatusEventType[] | null;
  description: string | null;
  created_at: Date;
  updated_at: Date;
}

const toEndpoint = (row: EventEndpointRow): EventEndpoint => ({
  id: row.id,
  tenantId: row.tenant_id,
  storedUrl: row.url,
  sealedSecrets: row.secrets,
  types: row.types,
  description: row.description,
  createdAt: row.created_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
});

export type NewEventEndpoint = Omit<EventEndpoint, 'createdAt' | 'updatedAt'>;

/**
 * Registers an endpoint unless the tenant holds `maxPerTenant` already; the tenant's row is locked
 * for the count and the insert, so concurrent requests cannot together pass the cap.
 */
export async function createEventEndpoint(
  db: Pool,
  e: NewEventEndpoint,
  maxPerTenant: number,
): Promise<EventEndpoint | { limitReached: true }> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE', [e.tenantId]);
    const count = await client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM event_endpoints WHERE tenant_id = $1',
      [e.tenantId],
    );
    if (count.rows[0]!.n >= maxPerTenant) {
      await client.query('ROLLBACK');
      return { limitReached: true };
    }
    const result = await client.query<EventEndpointRow>(
      `INSERT INTO event_endpoints (id, tenant_id, url, secrets, types, description)
       VALUES ($1, $2, $3, $4::text[], $5::text[], $6) RETURNING *`,
      [e.id, e.tenantId, e.storedUrl, e.sealedSecrets, e.types, e.description],
    );
    await client.query('COMMIT');
    return toEndpoint(result.rows[0]!);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

export async function getEventEndpoint(
  db: Queryable,
  tenantId: string,
  id: string,
): Promise<EventEndpoint | null> {
  const result = await db.query<EventEndpointRow>(
    'SELECT * FROM event_endpoints WHERE tenant_id = $1 AND id = $2',
    [tenantId, id],
  );
  return result.rows[0] ? toEndpoint(result.rows[0]) : null;
}

/** A tenant's endpoints, oldest first. */
export async function listEventEndpoints(db: Queryable, tenantId: string): Promise<EventEndpoint[]> {
  const result = await db.query<EventEndpointRow>(
    'SELECT * FROM event_endpoints WHERE tenant_id = $1 ORDER BY created_at, id',
    [tenantId],
  );
  return result.rows.map(toEndpoint);
}

/** Deletes an endpoint and, with it, its outbox and history. */
export async function deleteEventEndpoint(db: Queryable, tenantId: string, id: string): Promise<boolean> {
  const result = await db.query('DELETE FROM event_endpoints WHERE tenant_id = $1 AND id = $2', [
    tenantId,
    id,
  ]);
  return (result.rowCount ?? 0) > 0;
}

/** Puts a secret in front (it signs from now on); the others keep signing until removed. */
export async function addEventEndpointSecret(
  db: Queryable,
  tenantId: string,
  id: string,
  sealedSecret: string,
): Promise<EventEndpoint | null> {
  const result = await db.query<EventEndpointRow>(
    `UPDATE event_endpoints SET secrets = array_prepend($3::text, secrets), updated_at = now()
      WHERE tenant_id = $1 AND id = $2 RETURNING *`,
    [tenantId, id, sealedSecret],
  );
  return result.rows[0] ? toEndpoint(result.rows[0]) : null;
}

/** Ends a rotation: keeps only the newest secret. */
export async function removeOldEventEndpointSecrets(
  db: Queryable,
  tenantId: string,
  id: string,
): Promise<EventEndpoint | null> {
  const result = await db.query<EventEndpointRow>(
    `UPDATE event_endpoints SET secrets = secrets[1:1], updated_at = now()
      WHERE tenant_id = $1 AND id = $2 RETURNING *`,
    [tenantId, id],
  );
  return result.rows[0] ? toEndpoint(result.rows[0]) : null;
}
