import type { PreferencesDocument } from '../../common/preferences';
import type { Queryable } from './recipients';

/** One recipient's preferences and their groups' defaults, as `resolveChannelDecision` takes them. */
export interface RecipientPreferences {
  own: PreferencesDocument | null;
  /** The defaults of each of the recipient's groups that has some, ordered by group key. */
  groups: PreferencesDocument[];
}

/** A recipient's preferences: `{}` when they have none, null when there is no such recipient. */
export async function getPreferences(
  db: Queryable,
  tenantId: string,
  externalId: string,
): Promise<PreferencesDocument | null> {
  const result = await db.query<{ document: PreferencesDocument | null }>(
    `SELECT p.document FROM recipients r
     LEFT JOIN preferences p ON p.tenant_id = r.tenant_id AND p.external_id = r.external_id
     WHERE r.tenant_id = $1 AND r.external_id = $2`,
    [tenantId, externalId],
  );
  const row = result.rows[0];
  return row ? (row.document ?? {}) : null;
}

/** Replaces a recipient's preferences; null when there is no such recipient (nothing is stored). */
export async function putPreferences(
  db: Queryable,
  tenantId: string,
  externalId: string,
  document: PreferencesDocument,
): Promise<PreferencesDocument | null> {
  // Inserting from the recipients row makes "unknown recipient" a missing row, not a foreign-key error.
  const result = await db.query<{ document: PreferencesDocument }>(
    `INSERT INTO preferences (tenant_id, external_id, document)
     SELECT tenant_id, external_id, $3::jsonb FROM recipients WHERE tenant_id = $1 AND external_id = $2
     ON CONFLICT (tenant_id, external_id) DO UPDATE SET document = EXCLUDED.document, updated_at = now()
     RETURNING document`,
    [tenantId, externalId, JSON.stringify(document)],
  );
  return result.rows[0]?.document ?? null;
}

/** A group's defaults: `{}` when it has none, null when there is no such group. */
export async function getGroupPreferences(
  db: Queryable,
  tenantId: string,
  key: string,
): Promise<PreferencesDocument | null> {
  const result = await db.query<{ document: PreferencesDocument | null }>(
    `SELECT p.document FROM groups g
     LEFT JOIN group_preferences p ON p.tenant_id = g.tenant_id AND p.group_key = g.key
     WHERE g.tenant_id = $1 AND g.key = $2`,
    [tenantId, key],
  );
  const row = result.rows[0];
  return row ? (row.document ?? {}) : null;
}

/** Replaces a group's defaults; null when there is no such group (nothing is stored). */
export async function putGroupPreferences(
  db: Queryable,
  tenantId: string,
  key: string,
  document: PreferencesDocument,
): Promise<PreferencesDocument | null> {
  const result = await db.query<{ document: PreferencesDocument }>(
    `INSERT INTO group_preferences (tenant_id, group_key, document)
     SELECT tenant_id, key, $3::jsonb FROM groups WHERE tenant_id = $1 AND key = $2
     ON CONFLICT (tenant_id, group_key) DO UPDATE SET document = EXCLUDED.document, updated_at = now()
     RETURNING document`,
    [tenantId, key, JSON.stringify(document)],
  );
  return result.rows[0]?.document ?? null;
}

/** Removes a group's defaults (whether or not it had any); false when there is no such group. */
export async function deleteGroupPreferences(db: Queryable, tenantId: string, key: string): Promise<boolean> {
  const result = await db.query<{ found: boolean }>(
    `WITH removed AS (DELETE FROM group_preferences WHERE tenant_id = $1 AND group_key = $2)
     SELECT EXISTS (SELECT 1 FROM groups WHERE tenant_id = $1 AND key = $2) AS found`,
    [tenantId, key],
  );
  return result.rows[0]?.found ?? false;
}

/**
 * The preferences of many recipients and of their groups, in one query (for a page of a large
 * audience). Every distinct id asked for has an entry; unknown ids get `{ own: null, groups: [] }`.
 */
export async function loadPreferencesFor(
  db: Queryable,
  tenantId: string,
  externalIds: readonly string[],
): Promise<Map<string, RecipientPreferences>> {
  const byId = new Map<string, RecipientPreferences>();
  if (externalIds.length === 0) return byId;
  const result = await db.query<{
    external_id: string;
    own: PreferencesDocument | null;
    groups: PreferencesDocument[];
  }>(
    `SELECT ids.external_id, p.document AS own,
       COALESCE((
         SELECT jsonb_agg(gp.document ORDER BY gp.group_key)
         FROM group_members m
         JOIN group_preferences gp ON gp.tenant_id = m.tenant_id AND gp.group_key = m.group_key
         WHERE m.tenant_id = $1 AND m.external_id = ids.external_id
       ), '[]'::jsonb) AS groups
     FROM (SELECT DISTINCT unnest($2::text[]) AS external_id) ids
     LEFT JOIN preferences p ON p.tenant_id = $1 AND p.external_id = ids.external_id`,
    [tenantId, externalIds],
  );
  for (const row of result.rows) byId.set(row.external_id, { own: row.own, groups: row.groups });
  return byId;
}
