import { TENANT_SCOPES, type Scope } from '../../common/api-keys';
import { createApiKey } from '../../db/queries/api-keys';
import { createTenant } from '../../db/queries/tenants';
import { withTransaction } from '../../db/pool';
import type { Pool } from 'pg';

export interface CreatedTenant {
  tenant: string;
  key: string;
  keyId: string;
  scopes: Scope[];
}

/** A tenant and its first key (every tenant scope), in one transaction; null when the id is taken. */
export async function createTenantWithKey(
  db: Pool,
  id: string,
  name?: string,
): Promise<CreatedTenant | null> {
  return withTransaction(db, async (client) => {
    const tenant = await createTenant(client, id, name ?? id);
    if (!tenant) return null;
    const { key, info } = await createApiKey(client, {
      tenantId: id,
      name: 'initial key',
      scopes: TENANT_SCOPES,
    });
    return { tenant: id, key, keyId: info.id, scopes: info.scopes };
  });
}
