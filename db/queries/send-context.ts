import type { Queryable } from './recipients';
import { prepared } from '../prepared';

/**
 * What accepting a notification reads of its tenant, in one round trip instead of three: the
 * catalogue's version (TemplateRegistry.forTenantAt), the tenant's own daily quotas, and its
 * tenant-wide webhook endpoints (each receives every webhook send, so the send count needs them).
 */
export interface TenantSendContext {
  templateVersion: number;
  dailyQuotas: Record<string, number>;
  tenantWebhooks: number;
}

export async function readTenantSendContext(db: Queryable, tenantId: string): Promise<TenantSendContext> {
  const result = await db.query<{
    template_version: string | null;
    daily_quotas: Record<string, number> | null;
    tenant_webhooks: string;
  }>(
    prepared(`SELECT (SELECT version FROM tenant_template_versions WHERE tenant_id = $1) AS template_version,
            (SELECT daily_quotas FROM tenants WHERE id = $1) AS daily_quotas,
            (SELECT count(*) FROM webhook_endpoints
              WHERE tenant_id = $1 AND external_id IS NULL AND disabled_at IS NULL) AS tenant_webhooks`),
    [tenantId],
  );
  const row = result.rows[0]!;
  return {
    templateVersion: row.template_version === null ? 0 : Number(row.template_version),
    dailyQuotas: row.daily_quotas ?? {},
    tenantWebhooks: Number(row.tenant_webhooks),
  };
}
