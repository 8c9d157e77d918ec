import type { QuietHours, Queryable } from './recipients';

export interface TenantQuietHours {
  quietHours: QuietHours | null;
  timezone: string | null;
}

export async function getTenantQuietHours(db: Queryable, tenantId: string): Promise<TenantQuietHours> {
  const result = await db.query<{ quiet_hours: QuietHours | null; timezone: string | null }>(
    'SELECT quiet_hours, timezone FROM tenants WHERE id = $1',
    [tenantId],
  );
  return { quietHours: result.rows[0]?.quiet_hours ?? null, timezone: result.rows[0]?.timezone ?? null };
}

export async function putTenantQuietHours(
  db: Queryable,
  tenantId: string,
  value: TenantQuietHours,
): Promise<void> {
  await db.query('UPDATE tenants SET quiet_hours = $2, timezone = $3 WHERE id = $1', [
    tenantId,
    value.quietHours ? JSON.stringify(value.quietHours) : null,
    value.timezone,
  ]);
}

export interface Tenant {
  id: string;
  name: string;
  createdAt: string;
  /** Live (not revoked) API keys. */
  activeKeys: number;
  /** Daily send quotas per channel set for this tenant; channels not named use the operator's defaults. */
  dailyQuotas: Record<string, number>;
}

interface TenantRow {
  id: string;
  name: string;
  created_at: Date;
  active_keys: string;
  daily_quotas: Record<string, number> | null;
}

const TENANT_SELECT = `SELECT t.id, t.name, t.created_at, t.daily_quotas,
  (SELECT count(*) FROM api_keys k WHERE k.tenant_id = t.id AND k.revoked_at IS NULL) AS active_keys
  FROM tenants t`;

const toTenant = (r: TenantRow): Tenant => ({
  id: r.id,
  name: r.name,
  createdAt: r.created_at.toISOString(),
  activeKeys: Number(r.active_keys),
  dailyQuotas: r.daily_quotas ?? {},
});

/** Creates a tenant; null when the id is taken. */
export async function createTenant(db: Queryable, id: string, name: string): Promise<Tenant | null> {
  const inserted = await db.query(
    'INSERT INTO tenants (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING',
    [id, name],
  );
  if (inserted.rowCount === 0) return null;
  return getTenant(db, id);
}

export async function getTenant(db: Queryable, id: string): Promise<Tenant | null> {
  const result = await db.query<TenantRow>(`${TENANT_SELECT} WHERE t.id = $1`, [id]);
  return result.rows[0] ? toTenant(result.rows[0]) : null;
}

export async function listTenants(db: Queryable): Promise<Tenant[]> {
  return (await db.query<TenantRow>(`${TENANT_SELECT} ORDER BY t.id`)).rows.map(toTenant);
}

/** Only the tenant's own daily quotas (no key count): read on every notification accepted. */
export async function getTenantDailyQuotas(db: Queryable, id: string): Promise<Record<string, number>> {
  const result = await db.query<{ daily_quotas: Record<string, number> | null }>(
    'SELECT daily_quotas FROM tenants WHERE id = $1',
    [id],
  );
  return result.rows[0]?.daily_quotas ?? {};
}

/** Replaces the tenant's own daily quotas (channel → sends per UTC day); false when there is no such tenant. */
export async function setTenantDailyQuotas(
  db: Queryable,
  id: string,
  quotas: Record<string, number>,
): Promise<boolean> {
  const result = await db.query('UPDATE tenants SET daily_quotas = $2 WHERE id = $1', [
    id,
    JSON.stringify(quotas),
  ]);
  return (result.rowCount ?? 0) > 0;
}
