import type { Queryable } from './recipients';
import { prepared } from '../prepared';

/** The kinds of per-tenant settings; each has its own module that parses `config` (common/settings/). */
export const SETTING_KINDS = ['smtp', 'twilio', 'brand'] as const;
export type SettingKind = (typeof SETTING_KINDS)[number];

export interface TenantSettingRow {
  tenantId: string;
  kind: SettingKind;
  /** What may be shown back (never the secret). */
  config: Record<string, unknown>;
  /** The password or token, sealed (common/secret-box.ts); null when the kind has none. */
  sealedSecret: string | null;
  /** Rises on every change, from one sequence: a cache keyed by it is never stale. */
  version: number;
  updatedAt: string;
}

interface Row {
  tenant_id: string;
  kind: SettingKind;
  config: Record<string, unknown>;
  secret: string | null;
  version: string;
  updated_at: Date;
}

const toSetting = (row: Row): TenantSettingRow => ({
  tenantId: row.tenant_id,
  kind: row.kind,
  config: row.config,
  sealedSecret: row.secret,
  version: Number(row.version),
  updatedAt: row.updated_at.toISOString(),
});

export async function getTenantSetting(
  db: Queryable,
  tenantId: string,
  kind: SettingKind,
): Promise<TenantSettingRow | null> {
  const result = await db.query<Row>(
    prepared(
      'SELECT tenant_id, kind, config, secret, version, updated_at FROM tenant_settings WHERE tenant_id = $1 AND kind = $2',
    ),
    [tenantId, kind],
  );
  return result.rows[0] ? toSetting(result.rows[0]) : null;
}

/**
 * Stores a tenant's settings of one kind whole. `sealedSecret` undefined keeps the stored secret (a
 * PUT that leaves the password out does not erase it); null removes it.
 */
export async function putTenantSetting(
  db: Queryable,
  tenantId: string,
  kind: SettingKind,
  config: Record<string, unknown>,
  sealedSecret: string | null | undefined,
): Promise<TenantSettingRow> {
  const result = await db.query<Row>(
    `INSERT INTO tenant_settings (tenant_id, kind, config, secret, version)
     VALUES ($1, $2, $3, $4, nextval('tenant_settings_version'))
     ON CONFLICT (tenant_id, kind) DO UPDATE
       SET config = EXCLUDED.config,
           secret = CASE WHEN $5 THEN tenant_settings.secret ELSE EXCLUDED.secret END,
           version = EXCLUDED.version, updated_at = now()
     RETURNING tenant_id, kind, config, secret, version, updated_at`,
    [tenantId, kind, JSON.stringify(config), sealedSecret ?? null, sealedSecret === undefined],
  );
  return toSetting(result.rows[0]!);
}

/** Removes a tenant's settings of one kind (back to the operator's); false when there were none. */
export async function deleteTenantSetting(
  db: Queryable,
  tenantId: string,
  kind: SettingKind,
): Promise<boolean> {
  const result = await db.query('DELETE FROM tenant_settings WHERE tenant_id = $1 AND kind = $2', [
    tenantId,
    kind,
  ]);
  return (result.rowCount ?? 0) > 0;
}

/**
 * The version of a tenant's settings of one kind, 0 when it has none: the one cheap read a worker
 * makes before a batch to learn whether its cached transport is still right.
 */
export async function tenantSettingVersion(
  db: Queryable,
  tenantId: string,
  kind: SettingKind,
): Promise<number> {
  const result = await db.query<{ version: string }>(
    prepared('SELECT version FROM tenant_settings WHERE tenant_id = $1 AND kind = $2'),
    [tenantId, kind],
  );
  return result.rows[0] ? Number(result.rows[0].version) : 0;
}

/** Every tenant's settings of one kind (doctor, operators). */
export async function listTenantSettings(db: Queryable, kind: SettingKind): Promise<TenantSettingRow[]> {
  const result = await db.query<Row>(
    'SELECT tenant_id, kind, config, secret, version, updated_at FROM tenant_settings WHERE kind = $1 ORDER BY tenant_id',
    [kind],
  );
  return result.rows.map(toSetting);
}
