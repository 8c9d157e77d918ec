import type { Pool, PoolClient } from 'pg';

export type Queryable = Pool | PoolClient;

export interface QuietHours {
  start: string;
  end: string;
}

export interface Recipient {
  externalId: string;
  name: string | null;
  email: string | null;
  phone: string | null;
  whatsapp: string | null;
  timezone: string | null;
  locale: string | null;
  quietHours: QuietHours | null;
  digest: unknown;
  /** Ordered channels for failover, e.g. ['push', 'sms', 'email']. */
  failover: string[] | null;
  groups: string[];
  createdAt: string;
  updatedAt: string;
}

export type RecipientInput = Partial<Omit<Recipient, 'externalId' | 'groups' | 'createdAt' | 'updatedAt'>>;

interface RecipientRow {
  external_id: string;
  name: string | null;
  email: string | null;
  phone: string | null;
  whatsapp: string | null;
  timezone: string | null;
  locale: string | null;
  quiet_hours: QuietHours | null;
  digest: unknown;
  failover: string[] | null;
  groups: string[] | null;
  created_at: Date;
  updated_at: Date;
}

const toRecipient = (row: RecipientRow): Recipient => ({
  externalId: row.external_id,
  name: row.name,
  email: row.email,
  phone: row.phone,
  whatsapp: row.whatsapp,
  timezone: row.timezone,
  locale: row.locale,
  quietHours: row.quiet_hours,
  digest: row.digest,
  failover: row.failover,
  groups: row.groups ?? [],
  createdAt: row.created_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
});

const SELECT_RECIPIENT = `
  SELECT r.*, COALESCE(
    (SELECT array_agg(m.group_key ORDER BY m.group_key) FROM group_members m
      WHERE m.tenant_id = r.tenant_id AND m.external_id = r.external_id), '{}') AS groups
  FROM recipients r`;

/** Inserts or replaces a recipient; returns whether it was created. */
export async function upsertRecipient(
  db: Queryable,
  tenantId: string,
  externalId: string,
  input: RecipientInput,
): Promise<{ recipient: Recipient; created: boolean }> {
  const result = await db.query<{ created: boolean }>(
    `INSERT INTO recipients (tenant_id, external_id, name, email, phone, whatsapp, timezone, locale, quiet_hours, digest,
                             failover)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (tenant_id, external_id) DO UPDATE SET
       name = EXCLUDED.name, email = EXCLUDED.email, phone = EXCLUDED.phone, whatsapp = EXCLUDED.whatsapp,
       timezone = EXCLUDED.timezone, locale = EXCLUDED.locale, quiet_hours = EXCLUDED.quiet_hours,
       digest = EXCLUDED.digest, failover = EXCLUDED.failover, updated_at = now()
     RETURNING (xmax = 0) AS created`,
    [
      tenantId,
      externalId,
      input.name ?? null,
      input.email ?? null,
      input.phone ?? null,
      input.whatsapp ?? null,
      input.timezone ?? null,
      input.locale ?? null,
      input.quietHours ? JSON.stringify(input.quietHours) : null,
      input.digest === undefined || input.digest === null ? null : JSON.stringify(input.digest),
      input.failover ?? null,
    ],
  );
  const recipient = await getRecipient(db, tenantId, externalId);
  if (!recipient) throw new Error(`recipient ${externalId} vanished after upsert`);
  return { recipient, created: result.rows[0]?.created ?? false };
}

export async function getRecipient(
  db: Queryable,
  tenantId: string,
  externalId: string,
): Promise<Recipient | null> {
  const result = await db.query<RecipientRow>(
    `${SELECT_RECIPIENT} WHERE r.tenant_id = $1 AND r.external_id = $2`,
    [tenantId, externalId],
  );
  return result.rows[0] ? toRecipient(result.rows[0]) : null;
}

export async function listRecipients(
  db: Queryable,
  tenantId: string,
  opts: { limit: number; after?: string },
): Promise<Recipient[]> {
  const result = await db.query<RecipientRow>(
    `${SELECT_RECIPIENT} WHERE r.tenant_id = $1 AND ($2::text IS NULL OR r.external_id > $2)
     ORDER BY r.external_id LIMIT $3`,
    [tenantId, opts.after ?? null, opts.limit],
  );
  return result.rows.map(toRecipient);
}

export async function deleteRecipient(db: Queryable, tenantId: string, externalId: string): Promise<boolean> {
  const result = await db.query('DELETE FROM recipients WHERE tenant_id = $1 AND external_id = $2', [
    tenantId,
    externalId,
  ]);
  return (result.rowCount ?? 0) > 0;
}

/** Which of `externalIds` exist, in one round trip. */
export async function findExistingRecipientIds(
  db: Queryable,
  tenantId: string,
  externalIds: string[],
): Promise<Set<string>> {
  if (externalIds.length === 0) return new Set();
  const result = await db.query<{ external_id: string }>(
    'SELECT external_id FROM recipients WHERE tenant_id = $1 AND external_id = ANY($2::text[])',
    [tenantId, externalIds],
  );
  return new Set(result.rows.map((r) => r.external_id));
}
