import type { PreferencesDocument } from '../../common/preferences';
import type { Queryable } from './recipients';

/**
 * Unsubscribes from a category of email, both kinds: a known recipient's go into their preferences
 * document (`unsubscribed.email`, shown by the preferences API), a raw address's onto the tenant's
 * suppression list (`email_suppressions`). Each change is one statement, so two clicks at once
 * (a mail provider's POST and the person's own) cannot lose either.
 */

/** Adds the category to the recipient's `unsubscribed.email`; false when there is no such recipient. */
export async function unsubscribeRecipient(
  db: Queryable,
  tenantId: string,
  externalId: string,
  category: string,
): Promise<boolean> {
  const result = await db.query(
    `INSERT INTO preferences (tenant_id, external_id, document)
     SELECT tenant_id, external_id, jsonb_build_object('unsubscribed', jsonb_build_object('email', jsonb_build_array($3::text)))
       FROM recipients WHERE tenant_id = $1 AND external_id = $2
     ON CONFLICT (tenant_id, external_id) DO UPDATE SET
       document = jsonb_set(
         preferences.document, '{unsubscribed}',
         COALESCE(preferences.document->'unsubscribed', '{}'::jsonb) || jsonb_build_object('email', (
           SELECT jsonb_agg(c ORDER BY c) FROM (
             SELECT jsonb_array_elements_text(COALESCE(preferences.document->'unsubscribed'->'email', '[]'::jsonb))
             UNION SELECT $3::text
           ) AS categories(c)
         ))),
       updated_at = now()
     RETURNING 1`,
    [tenantId, externalId, category],
  );
  return (result.rowCount ?? 0) > 0;
}

/**
 * Removes the category from the recipient's `unsubscribed.email` (dropping `unsubscribed` when it
 * ends up empty); false when there is no such recipient.
 */
export async function resubscribeRecipient(
  db: Queryable,
  tenantId: string,
  externalId: string,
  category: string,
): Promise<boolean> {
  const result = await db.query<{ found: boolean }>(
    `WITH changed AS (
       UPDATE preferences p SET
         document = CASE WHEN rest.categories IS NULL THEN p.document - 'unsubscribed'
                         ELSE jsonb_set(p.document, '{unsubscribed,email}', rest.categories) END,
         updated_at = now()
         FROM (SELECT (SELECT jsonb_agg(c ORDER BY c)
                         FROM jsonb_array_elements_text(q.document->'unsubscribed'->'email') AS c
                        WHERE c <> $3) AS categories
                 FROM preferences q WHERE q.tenant_id = $1 AND q.external_id = $2) AS rest
        WHERE p.tenant_id = $1 AND p.external_id = $2 AND p.document->'unsubscribed'->'email' ? $3
     )
     SELECT EXISTS (SELECT 1 FROM recipients WHERE tenant_id = $1 AND external_id = $2) AS found`,
    [tenantId, externalId, category],
  );
  return result.rows[0]?.found ?? false;
}

/** Whether the recipient unsubscribed from the category on email; null when there is no such recipient. */
export async function isRecipientUnsubscribed(
  db: Queryable,
  tenantId: string,
  externalId: string,
  category: string,
): Promise<boolean | null> {
  const result = await db.query<{ document: PreferencesDocument | null }>(
    `SELECT p.document FROM recipients r
       LEFT JOIN preferences p ON p.tenant_id = r.tenant_id AND p.external_id = r.external_id
      WHERE r.tenant_id = $1 AND r.external_id = $2`,
    [tenantId, externalId],
  );
  const row = result.rows[0];
  if (!row) return null;
  return (row.document?.unsubscribed?.email ?? []).includes(category);
}

/**
 * Puts the address on the tenant's suppression list for the category (again: nothing changes);
 * false when there is no such tenant.
 */
export async function addEmailSuppression(
  db: Queryable,
  tenantId: string,
  address: string,
  category: string,
): Promise<boolean> {
  const result = await db.query<{ found: boolean }>(
    `WITH tenant AS (SELECT id FROM tenants WHERE id = $1),
          added AS (
            INSERT INTO email_suppressions (tenant_id, address, category)
            SELECT id, lower($2), $3 FROM tenant
            ON CONFLICT DO NOTHING
          )
     SELECT EXISTS (SELECT 1 FROM tenant) AS found`,
    [tenantId, address, category],
  );
  return result.rows[0]?.found ?? false;
}

/**
 * Takes the address off the suppression list for the category (whether or not it was on it);
 * false when there is no such tenant.
 */
export async function removeEmailSuppression(
  db: Queryable,
  tenantId: string,
  address: string,
  category: string,
): Promise<boolean> {
  const result = await db.query<{ found: boolean }>(
    `WITH removed AS (
       DELETE FROM email_suppressions WHERE tenant_id = $1 AND address = lower($2) AND category = $3
     )
     SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1) AS found`,
    [tenantId, address, category],
  );
  return result.rows[0]?.found ?? false;
}

/** Whether the address is on the suppression list for the category. */
export async function isEmailSuppressed(
  db: Queryable,
  tenantId: string,
  address: string,
  category: string,
): Promise<boolean> {
  const result = await db.query(
    'SELECT 1 FROM email_suppressions WHERE tenant_id = $1 AND address = lower($2) AND category = $3',
    [tenantId, address, category],
  );
  return (result.rowCount ?? 0) > 0;
}

/** Which of `addresses` are on the suppression list for the category, lowercased. */
export async function suppressedAddresses(
  db: Queryable,
  tenantId: string,
  addresses: readonly string[],
  category: string,
): Promise<Set<string>> {
  if (addresses.length === 0) return new Set();
  const result = await db.query<{ address: string }>(
    `SELECT address FROM email_suppressions
      WHERE tenant_id = $1 AND category = $3
        AND address = ANY(ARRAY(SELECT lower(a) FROM unnest($2::text[]) AS a))`,
    [tenantId, addresses, category],
  );
  return new Set(result.rows.map((r) => r.address));
}

/**
 * Suppresses the pending email deliveries to raw addresses (no recipient record) of a notification
 * level that are on the suppression list for the category; returns how many. Recipients' rows are
 * decided with their other policies (activities/policies.ts), so their failover chains stay right.
 */
export async function suppressRawEmailDeliveries(
  db: Queryable,
  notificationId: string,
  level: number,
  category: string,
  reason: string,
): Promise<number> {
  const result = await db.query(
    `UPDATE deliveries d SET status = 'suppressed', error = $4, updated_at = now()
       FROM email_suppressions s
      WHERE d.notification_id = $1 AND d.level = $2 AND d.status = 'pending' AND d.channel = 'email'
        AND d.external_id IS NULL
        AND s.tenant_id = d.tenant_id AND s.address = lower(d.address) AND s.category = $3`,
    [notificationId, level, category, reason],
  );
  return result.rowCount ?? 0;
}
