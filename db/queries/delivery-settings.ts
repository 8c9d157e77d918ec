import type { QuietHours, Queryable } from './recipients';

/** The part of a recipient that the person sets for themselves: when and how messages reach them. */
export interface DeliverySettings {
  timezone: string | null;
  quietHours: QuietHours | null;
  /** The recipient's digest settings (`{ events, frequency, hour?, weekday? }`), null: no digest. */
  digest: unknown;
}

/** A recipient's delivery settings; null when there is no such recipient. */
export async function getDeliverySettings(
  db: Queryable,
  tenantId: string,
  externalId: string,
): Promise<DeliverySettings | null> {
  const result = await db.query<{ timezone: string | null; quiet_hours: QuietHours | null; digest: unknown }>(
    'SELECT timezone, quiet_hours, digest FROM recipients WHERE tenant_id = $1 AND external_id = $2',
    [tenantId, externalId],
  );
  const row = result.rows[0];
  return row ? { timezone: row.timezone, quietHours: row.quiet_hours, digest: row.digest } : null;
}

/**
 * Changes only the fields given (undefined: kept; null: cleared), in one statement so that a
 * backend's concurrent PUT of the rest of the recipient is not overwritten.
 */
export async function updateDeliverySettings(
  db: Queryable,
  tenantId: string,
  externalId: string,
  change: Partial<DeliverySettings>,
): Promise<DeliverySettings | null> {
  const json = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));
  const result = await db.query<{ timezone: string | null; quiet_hours: QuietHours | null; digest: unknown }>(
    `UPDATE recipients SET
       timezone = CASE WHEN $3::boolean THEN $4::text ELSE timezone END,
       quiet_hours = CASE WHEN $5::boolean THEN $6::jsonb ELSE quiet_hours END,
       digest = CASE WHEN $7::boolean THEN $8::jsonb ELSE digest END,
       updated_at = now()
     WHERE tenant_id = $1 AND external_id = $2
     RETURNING timezone, quiet_hours, digest`,
    [
      tenantId,
      externalId,
      change.timezone !== undefined,
      change.timezone ?? null,
      change.quietHours !== undefined,
      json(change.quietHours),
      change.digest !== undefined,
      json(change.digest),
    ],
  );
  const row = result.rows[0];
  return row ? { timezone: row.timezone, quietHours: row.quiet_hours, digest: row.digest } : null;
}
