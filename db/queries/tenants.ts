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
