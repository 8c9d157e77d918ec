import type { Queryable } from './recipients';

export interface Group {
  key: string;
  name: string;
  description: string | null;
  memberCount: number;
  createdAt: string;
  updatedAt: string;
}

interface GroupRow {
  key: string;
  name: string;
  description: string | null;
  member_count: string;
  created_at: Date;
  updated_at: Date;
}

const toGroup = (row: GroupRow): Group => ({
  key: row.key,
  name: row.name,
  description: row.description,
  memberCount: Number(row.member_count),
  createdAt: row.created_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
});

const SELECT_GROUP = `
  SELECT g.key, g.name, g.description, g.created_at, g.updated_at,
    (SELECT count(*) FROM group_members m WHERE m.tenant_id = g.tenant_id AND m.group_key = g.key) AS member_count
  FROM groups g`;

export async function upsertGroup(
  db: Queryable,
  tenantId: string,
  key: string,
  input: { name: string; description?: string | null },
): Promise<{ group: Group; created: boolean }> {
  const result = await db.query<{ created: boolean }>(
    `INSERT INTO groups (tenant_id, key, name, description) VALUES ($1, $2, $3, $4)
     ON CONFLICT (tenant_id, key) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,
       updated_at = now()
     RETURNING (xmax = 0) AS created`,
    [tenantId, key, input.name, input.description ?? null],
  );
  const group = await getGroup(db, tenantId, key);
  if (!group) throw new Error(`group ${key} vanished after upsert`);
  return { group, created: result.rows[0]?.created ?? false };
}

export async function getGroup(db: Queryable, tenantId: string, key: string): Promise<Group | null> {
  const result = await db.query<GroupRow>(`${SELECT_GROUP} WHERE g.tenant_id = $1 AND g.key = $2`, [
    tenantId,
    key,
  ]);
  return result.rows[0] ? toGroup(result.rows[0]) : null;
}

export async function listGroups(db: Queryable, tenantId: string): Promise<Group[]> {
  const result = await db.query<GroupRow>(`${SELECT_GROUP} WHERE g.tenant_id = $1 ORDER BY g.name`, [
    tenantId,
  ]);
  return result.rows.map(toGroup);
}

export async function deleteGroup(db: Queryable, tenantId: string, key: string): Promise<boolean> {
  const result = await db.query('DELETE FROM groups WHERE tenant_id = $1 AND key = $2', [tenantId, key]);
  return (result.rowCount ?? 0) > 0;
}

/** Adds a member; returns false when the membership already existed. */
export async function addGroupMember(
  db: Queryable,
  tenantId: string,
  key: string,
  externalId: string,
): Promise<boolean> {
  const result = await db.query(
    `INSERT INTO group_members (tenant_id, group_key, external_id) VALUES ($1, $2, $3)
     ON CONFLICT DO NOTHING`,
    [tenantId, key, externalId],
  );
  return (result.rowCount ?? 0) > 0;
}

export async function removeGroupMember(
  db: Queryable,
  tenantId: string,
  key: string,
  externalId: string,
): Promise<boolean> {
  const result = await db.query(
    'DELETE FROM group_members WHERE tenant_id = $1 AND group_key = $2 AND external_id = $3',
    [tenantId, key, externalId],
  );
  return (result.rowCount ?? 0) > 0;
}

export async function listGroupMembers(
  db: Queryable,
  tenantId: string,
  key: string,
): Promise<{ externalId: string; name: string | null; email: string | null }[]> {
  const result = await db.query<{ external_id: string; name: string | null; email: string | null }>(
    `SELECT r.external_id, r.name, r.email FROM group_members m
     JOIN recipients r ON r.tenant_id = m.tenant_id AND r.external_id = m.external_id
     WHERE m.tenant_id = $1 AND m.group_key = $2 ORDER BY r.external_id`,
    [tenantId, key],
  );
  return result.rows.map((r) => ({ externalId: r.external_id, name: r.name, email: r.email }));
}

/** Maps each reference (a group key or a group name) to its key; references with no group are left out. */
export async function resolveGroupRefs(
  db: Queryable,
  tenantId: string,
  refs: string[],
): Promise<Map<string, string>> {
  if (refs.length === 0) return new Map();
  const result = await db.query<{ key: string; name: string }>(
    'SELECT key, name FROM groups WHERE tenant_id = $1 AND (key = ANY($2::text[]) OR name = ANY($2::text[]))',
    [tenantId, refs],
  );
  const byRef = new Map<string, string>();
  for (const row of result.rows) {
    byRef.set(row.key, row.key);
    byRef.set(row.name, row.key);
  }
  return new Map(refs.filter((r) => byRef.has(r)).map((r) => [r, byRef.get(r)!]));
}
