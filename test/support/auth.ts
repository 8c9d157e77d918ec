import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import type { Scope } from '../../common/api-keys';
import { createApiKey } from '../../db/queries/api-keys';
import { createTenant } from '../../db/queries/tenants';

/** One HERALD_SECRET_KEY for the API and worker of every test stack (end-user tokens, ack links). */
export const TEST_SECRET_KEY = randomBytes(32).toString('base64');

/** Every scope a tenant key may carry. */
export const ALL_TENANT_SCOPES: Scope[] = ['send', 'read', 'manage', 'admin', 'critical'];

/** A tenant with a key of every tenant scope plus `critical`; reuses the tenant if it exists. */
export async function createTestTenant(db: Pool, tenantId: string): Promise<{ key: string }> {
  await createTenant(db, tenantId, `Test ${tenantId}`);
  return createKey(db, tenantId, ALL_TENANT_SCOPES);
}

/** A key with exactly these scopes (tenantId null: an operator key). */
export async function createKey(
  db: Pool,
  tenantId: string | null,
  scopes: Scope[],
): Promise<{ key: string; id: string }> {
  const { key, info } = await createApiKey(db, { tenantId, name: 'test key', scopes });
  return { key, id: info.id };
}
