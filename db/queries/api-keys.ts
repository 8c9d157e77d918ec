import { randomUUID } from 'node:crypto';
import { apiKeyPrefix, generateApiKey, hashApiKey, type Scope } from '../../common/api-keys';
import type { Queryable } from './recipients';
import { COUNT_IN_WINDOW, toRateWindow, type RateWindow, type RateWindowRow } from './rate-limits';
import { prepared } from '../prepared';

/** A stored key as lists show it: never the key itself, nor its hash. */
export interface ApiKeyInfo {
  id: string;
  tenantId: string | null;
  name: string;
  prefix: string;
  scopes: Scope[];
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** The key a request presented, as authentication needs it. */
export interface ApiKeyPrincipal {
  id: string;
  tenantId: string | null;
  scopes: Scope[];
  /** Its last use is over a minute old (or never): record this one (see {@link touchApiKey}). */
  useIsStale: boolean;
}

interface Row {
  id: string;
  tenant_id: string | null;
  name: string;
  prefix: string;
  scopes: Scope[];
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const COLUMNS = 'id, tenant_id, name, prefix, scopes, created_at, last_used_at, revoked_at';

const toInfo = (r: Row): ApiKeyInfo => ({
  id: r.id,
  tenantId: r.tenant_id,
  name: r.name,
  prefix: r.prefix,
  scopes: r.scopes,
  createdAt: r.created_at.toISOString(),
  lastUsedAt: r.last_used_at?.toISOString() ?? null,
  revokedAt: r.revoked_at?.toISOString() ?? null,
});

/** Creates a key; the answer is the only time the key itself is seen. */
export async function createApiKey(
  db: Queryable,
  input: { tenantId: string | null; name: string; scopes: readonly Scope[] },
): Promise<{ key: string; info: ApiKeyInfo }> {
  const key = generateApiKey();
  const result = await db.query<Row>(
    `INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, scopes)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
    [
      `key_${randomUUID().replace(/-/g, '').slice(0, 20)}`,
      input.tenantId,
      input.name,
      apiKeyPrefix(key),
      hashApiKey(key),
      [...new Set(input.scopes)],
    ],
  );
  return { key, info: toInfo(result.rows[0]!) };
}

/**
 * The live key with this hash, or null. Read on every request (no cache), so a revocation holds
 * on every API process from the next request on.
 */
export async function findActiveApiKey(db: Queryable, keyHash: string): Promise<ApiKeyPrincipal | null> {
  const result = await db.query<KeyRow>(
    prepared(`SELECT ${KEY_LOOKUP} WHERE key_hash = $1 AND revoked_at IS NULL`),
    [keyHash],
  );
  const row = result.rows[0];
  return row ? toPrincipal(row) : null;
}

/**
 * The same lookup, and the request counted in the key's rate-limit window (bucket: the key's id) in
 * the same statement: one round trip instead of two on every request an API key makes. Nothing is
 * counted for an unknown or revoked key.
 */
export async function findActiveApiKeyCounting(
  db: Queryable,
  keyHash: string,
): Promise<{ key: ApiKeyPrincipal; window: RateWindow } | null> {
  const result = await db.query<KeyRow & RateWindowRow>(
    prepared(`WITH key AS (SELECT ${KEY_LOOKUP} WHERE key_hash = $1 AND revoked_at IS NULL),
          counted AS (
            INSERT INTO api_rate_limits AS r (principal, window_start, count)
            SELECT id, now(), 1 FROM key ${COUNT_IN_WINDOW})
     SELECT key.id, key.tenant_id, key.scopes, key.stale, counted.count, counted.reset_at FROM key, counted`),
    [keyHash],
  );
  const row = result.rows[0];
  return row ? { key: toPrincipal(row), window: toRateWindow(row) } : null;
}

interface KeyRow {
  id: string;
  tenant_id: string | null;
  scopes: Scope[];
  stale: boolean;
}

const KEY_LOOKUP = `id, tenant_id, scopes,
            (last_used_at IS NULL OR last_used_at < now() - interval '1 minute') AS stale
       FROM api_keys`;

const toPrincipal = (row: KeyRow): ApiKeyPrincipal => ({
  id: row.id,
  tenantId: row.tenant_id,
  scopes: row.scopes,
  useIsStale: row.stale,
});

/**
 * Records a use. Called only when the lookup found the last one over a minute old, so a busy key
 * costs one write a minute, not a query per request; the condition keeps racing processes to one.
 */
export async function touchApiKey(db: Queryable, id: string): Promise<void> {
  await db.query(
    `UPDATE api_keys SET last_used_at = now()
      WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`,
    [id],
  );
}

/** A tenant's keys (null: the operator keys), oldest first. */
export async function listApiKeys(db: Queryable, tenantId: string | null): Promise<ApiKeyInfo[]> {
  const result = await db.query<Row>(
    `SELECT ${COLUMNS} FROM api_keys WHERE tenant_id IS NOT DISTINCT FROM $1 ORDER BY created_at, id`,
    [tenantId],
  );
  return result.rows.map(toInfo);
}

export async function getApiKey(db: Queryable, id: string): Promise<ApiKeyInfo | null> {
  const result = await db.query<Row>(`SELECT ${COLUMNS} FROM api_keys WHERE id = $1`, [id]);
  return result.rows[0] ? toInfo(result.rows[0]) : null;
}

/**
 * Revokes a key; `tenantId` (when given) must own it, so a tenant cannot revoke another's keys.
 * Answers the key as it is afterwards, or null when there is no such key (for that tenant).
 */
export async function revokeApiKey(db: Queryable, id: string, tenantId?: string): Promise<ApiKeyInfo | null> {
  const result = await db.query<Row>(
    `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
      WHERE id = $1 AND ($2::text IS NULL OR tenant_id = $2) RETURNING ${COLUMNS}`,
    [id, tenantId ?? null],
  );
  return result.rows[0] ? toInfo(result.rows[0]) : null;
}

/** Keys that are live and unused (or never used) for `days` days, for `herald doctor`. */
export async function listStaleApiKeys(db: Queryable, days: number): Promise<ApiKeyInfo[]> {
  const result = await db.query<Row>(
    `SELECT ${COLUMNS} FROM api_keys
      WHERE revoked_at IS NULL AND coalesce(last_used_at, created_at) < now() - make_interval(days => $1)
      ORDER BY tenant_id, created_at`,
    [days],
  );
  return result.rows.map(toInfo);
}
