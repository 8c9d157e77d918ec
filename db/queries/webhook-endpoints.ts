import type { Pool } from 'pg';
import type { Queryable } from './recipients';

/** `standard`: signed JSON; `slack`: `{"text"}`; `teams`: an Adaptive Card message. Slack and Teams are unsigned. */
export const WEBHOOK_PRESETS = ['standard', 'slack', 'teams'] as const;
export type WebhookPreset = (typeof WEBHOOK_PRESETS)[number];

/**
 * A registered webhook endpoint. `externalId` null: tenant-wide, it receives every notification that
 * includes the webhook channel. `storedUrl` is the URL sealed with the secret box (a URL can be a
 * credential), or plain text in rows written before sealing; open it with `openEndpointUrl`.
 * `sealedSecrets` are the `whsec_` secrets sealed with the secret box, newest first; the newest
 * signs, all of them sign during a rotation.
 */
export interface WebhookEndpoint {
  id: string;
  tenantId: string;
  externalId: string | null;
  storedUrl: string;
  preset: WebhookPreset;
  sealedSecrets: string[];
  disabledAt: string | null;
  disabledReason: string | null;
  createdAt: string;
  updatedAt: string;
}

interface WebhookEndpointRow {
  id: string;
  tenant_id: string;
  external_id: string | null;
  url: string;
  preset: WebhookPreset;
  secrets: string[];
  disabled_at: Date | null;
  disabled_reason: string | null;
  created_at: Date;
  updated_at: Date;
}

const toEndpoint = (row: WebhookEndpointRow): WebhookEndpoint => ({
  id: row.id,
  tenantId: row.tenant_id,
  externalId: row.external_id,
  storedUrl: row.url,
  preset: row.preset,
  sealedSecrets: row.secrets,
  disabledAt: row.disabled_at?.toISOString() ?? null,
  disabledReason: row.disabled_reason,
  createdAt: row.created_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
});

export interface NewWebhookEndpoint {
  id: string;
  tenantId: string;
  externalId: string | null;
  /** Sealed. */
  storedUrl: string;
  preset: WebhookPreset;
  sealedSecrets: string[];
}

/**
 * Registers an endpoint unless the tenant holds `maxPerTenant` already. The tenant's row is locked
 * for the count and the insert, so concurrent requests cannot together pass the cap.
 */
export async function createWebhookEndpoint(
  db: Pool,
  e: NewWebhookEndpoint,
  maxPerTenant: number,
): Promise<{ endpoint: WebhookEndpoint } | { limitReached: true }> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE', [e.tenantId]);
    const count = await client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM webhook_endpoints WHERE tenant_id = $1',
      [e.tenantId],
    );
    if (count.rows[0]!.n >= maxPerTenant) {
      await client.query('ROLLBACK');
      return { limitReached: true };
    }
    const result = await client.query<WebhookEndpointRow>(
      `INSERT INTO webhook_endpoints (id, tenant_id, external_id, url, preset, secrets)
       VALUES ($1, $2, $3, $4, $5, $6::text[]) RETURNING *`,
      [e.id, e.tenantId, e.externalId, e.storedUrl, e.preset, e.sealedSecrets],
    );
    await client.query('COMMIT');
    return { endpoint: toEndpoint(result.rows[0]!) };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

export async function getWebhookEndpoint(
  db: Queryable,
  tenantId: string,
  id: string,
): Promise<WebhookEndpoint | null> {
  const result = await db.query<WebhookEndpointRow>(
    'SELECT * FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2',
    [tenantId, id],
  );
  return result.rows[0] ? toEndpoint(result.rows[0]) : null;
}

/** A tenant's endpoints, oldest first; `externalId` narrows to one recipient's, `null` to tenant-wide ones. */
export async function listWebhookEndpoints(
  db: Queryable,
  tenantId: string,
  filter: { externalId?: string | null } = {},
): Promise<WebhookEndpoint[]> {
  const result = await db.query<WebhookEndpointRow>(
    `SELECT * FROM webhook_endpoints
      WHERE tenant_id = $1
        AND (NOT $2::boolean OR external_id IS NOT DISTINCT FROM $3)
      ORDER BY created_at, id`,
    [tenantId, filter.externalId !== undefined, filter.externalId ?? null],
  );
  return result.rows.map(toEndpoint);
}

export async function deleteWebhookEndpoint(db: Queryable, tenantId: string, id: string): Promise<boolean> {
  const result = await db.query('DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2', [
    tenantId,
    id,
  ]);
  return (result.rowCount ?? 0) > 0;
}

/** Adds a secret in front (it signs from now on); the old ones keep signing until removed. */
export async function addWebhookSecret(
  db: Queryable,
  tenantId: string,
  id: string,
  sealedSecret: string,
): Promise<WebhookEndpoint | null> {
  const result = await db.query<WebhookEndpointRow>(
    `UPDATE webhook_endpoints SET secrets = array_prepend($3::text, secrets), updated_at = now()
      WHERE tenant_id = $1 AND id = $2 RETURNING *`,
    [tenantId, id, sealedSecret],
  );
  return result.rows[0] ? toEndpoint(result.rows[0]) : null;
}

/** Ends a rotation: keeps only the newest secret. */
export async function removeOldWebhookSecrets(
  db: Queryable,
  tenantId: string,
  id: string,
): Promise<WebhookEndpoint | null> {
  const result = await db.query<WebhookEndpointRow>(
    `UPDATE webhook_endpoints SET secrets = secrets[1:1], updated_at = now()
      WHERE tenant_id = $1 AND id = $2 RETURNING *`,
    [tenantId, id],
  );
  return result.rows[0] ? toEndpoint(result.rows[0]) : null;
}

/** Stops deliveries to an endpoint (e.g. it answered 410 Gone); the first reason is kept. */
export async function disableWebhookEndpoint(
  db: Queryable,
  tenantId: string,
  id: string,
  reason: string,
): Promise<WebhookEndpoint | null> {
  const result = await db.query<WebhookEndpointRow>(
    `UPDATE webhook_endpoints
        SET disabled_at = COALESCE(disabled_at, now()), disabled_reason = COALESCE(disabled_reason, $3),
            updated_at = now()
      WHERE tenant_id = $1 AND id = $2 RETURNING *`,
    [tenantId, id, reason],
  );
  return result.rows[0] ? toEndpoint(result.rows[0]) : null;
}

export async function enableWebhookEndpoint(
  db: Queryable,
  tenantId: string,
  id: string,
): Promise<WebhookEndpoint | null> {
  const result = await db.query<WebhookEndpointRow>(
    `UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = NULL, updated_at = now()
      WHERE tenant_id = $1 AND id = $2 RETURNING *`,
    [tenantId, id],
  );
  return result.rows[0] ? toEndpoint(result.rows[0]) : null;
}

/** Every tenant's endpoints whose URL or secrets are not sealed the current way (`v2:`). */
export async function listEndpointsToReseal(
  db: Queryable,
): Promise<{ id: string; url: string; secrets: string[] }[]> {
  const result = await db.query<{ id: string; url: string; secrets: string[] }>(
    `SELECT id, url, secrets FROM webhook_endpoints
      WHERE url NOT LIKE 'v2:%' OR EXISTS (SELECT 1 FROM unnest(secrets) s WHERE s NOT LIKE 'v2:%')`,
  );
  return result.rows;
}

/** Replaces an endpoint's stored URL and secrets if they are still `before`; whether it did. */
export async function resealWebhookEndpoint(
  db: Queryable,
  before: { id: string; url: string; secrets: string[] },
  after: { url: string; secrets: string[] },
): Promise<boolean> {
  const result = await db.query(
    `UPDATE webhook_endpoints SET url = $4, secrets = $5::text[]
      WHERE id = $1 AND url = $2 AND secrets = $3::text[]`,
    [before.id, before.url, before.secrets, after.url, after.secrets],
  );
  return (result.rowCount ?? 0) > 0;
}
