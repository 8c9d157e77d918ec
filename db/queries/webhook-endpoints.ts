import type { Queryable } from './recipients';

export const WEBHOOK_PRESETS = ['standard', 'slack'] as const;
export type WebhookPreset = (typeof WEBHOOK_PRESETS)[number];

/**
 * A registered webhook endpoint. `externalId` null: tenant-wide, it receives every notification that
 * includes the webhook channel. `sealedSecrets` are the `whsec_` secrets sealed with the secret box,
 * newest first; the newest signs, all of them sign during a rotation.
 */
export interface WebhookEndpoint {
  id: string;
  tenantId: string;
  externalId: string | null;
  url: string;
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
  url: row.url,
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
  url: string;
  preset: WebhookPreset;
  sealedSecrets: string[];
}

export async function createWebhookEndpoint(db: Queryable, e: NewWebhookEndpoint): Promise<WebhookEndpoint> {
  const result = await db.query<WebhookEndpointRow>(
    `INSERT INTO webhook_endpoints (id, tenant_id, external_id, url, preset, secrets)
     VALUES ($1, $2, $3, $4, $5, $6::text[]) RETURNING *`,
    [e.id, e.tenantId, e.externalId, e.url, e.preset, e.sealedSecrets],
  );
  return toEndpoint(result.rows[0]!);
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

/**
 * The endpoint a per-recipient delivery was addressed to (the delivery's address is the URL): the
 * active one if there is one, else a disabled one, so the caller can say why it will not send.
 */
export async function findRecipientWebhookEndpoint(
  db: Queryable,
  tenantId: string,
  externalId: string,
  url: string,
): Promise<WebhookEndpoint | null> {
  const result = await db.query<WebhookEndpointRow>(
    `SELECT * FROM webhook_endpoints WHERE tenant_id = $1 AND external_id = $2 AND url = $3
      ORDER BY disabled_at IS NOT NULL, created_at LIMIT 1`,
    [tenantId, externalId, url],
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
