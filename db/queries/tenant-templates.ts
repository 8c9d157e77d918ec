import type { Queryable } from './recipients';
import { prepared } from '../prepared';

/** A push or in-app card as a tenant writes it: Liquid in each field. */
export interface CardSource {
  title: string;
  body: string;
  url?: string;
}

/** The sources of a tenant's variants of one event in one locale; absent ones come from below. */
export interface VariantSources {
  subject?: string;
  /** The content section of the email (like templates/<event>/email.mjml), inside the shared layout. */
  mjml?: string;
  text?: string;
  sms?: string;
  push?: CardSource;
  inapp?: CardSource;
}

export interface TenantTemplateRow {
  tenantId: string;
  event: string;
  /** '' for the default locale, else a canonical BCP 47 tag. */
  locale: string;
  /** Set on the default-locale row of an event of the tenant's own (not built in). */
  manifest: Record<string, unknown> | null;
  variants: VariantSources;
  version: number;
  updatedAt: string;
}

interface Row {
  tenant_id: string;
  event: string;
  locale: string;
  manifest: Record<string, unknown> | null;
  variants: VariantSources;
  version: string;
  updated_at: Date;
}

const COLUMNS = 'tenant_id, event, locale, manifest, variants, version, updated_at';

const toRow = (row: Row): TenantTemplateRow => ({
  tenantId: row.tenant_id,
  event: row.event,
  locale: row.locale,
  manifest: row.manifest,
  variants: row.variants,
  version: Number(row.version),
  updatedAt: row.updated_at.toISOString(),
});

/**
 * The version of a tenant's templates, 0 when it never had any: the one cheap read before a batch
 * that says whether the compiled copy a process holds is still right.
 */
export async function tenantTemplatesVersion(db: Queryable, tenantId: string): Promise<number> {
  const result = await db.query<{ version: string }>(
    prepared('SELECT version FROM tenant_template_versions WHERE tenant_id = $1'),
    [tenantId],
  );
  return result.rows[0] ? Number(result.rows[0].version) : 0;
}

/** All of a tenant's template rows and the version they are at, read together. */
export async function loadTenantTemplates(
  db: Queryable,
  tenantId: string,
): Promise<{ version: number; rows: TenantTemplateRow[] }> {
  const result = await db.query<Row & { catalogue_version: string }>(
    `SELECT v.version AS catalogue_version, t.tenant_id, t.event, t.locale, t.manifest, t.variants,
            t.version, t.updated_at
       FROM tenant_template_versions v
       LEFT JOIN tenant_templates t ON t.tenant_id = v.tenant_id
      WHERE v.tenant_id = $1
      ORDER BY t.event, t.locale`,
    [tenantId],
  );
  const first = result.rows[0];
  if (!first) return { version: 0, rows: [] };
  return {
    version: Number(first.catalogue_version),
    rows: result.rows.filter((r) => r.event !== null).map(toRow),
  };
}

/** A tenant's rows of one event, default locale first. */
export async function getTenantTemplates(
  db: Queryable,
  tenantId: string,
  event: string,
): Promise<TenantTemplateRow[]> {
  const result = await db.query<Row>(
    `SELECT ${COLUMNS} FROM tenant_templates WHERE tenant_id = $1 AND event = $2 ORDER BY locale`,
    [tenantId, event],
  );
  return result.rows.map(toRow);
}

/** How many template rows a tenant has (the cap on what one tenant makes every worker compile). */
export async function countTenantTemplates(db: Queryable, tenantId: string): Promise<number> {
  const result = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM tenant_templates WHERE tenant_id = $1',
    [tenantId],
  );
  return result.rows[0]?.n ?? 0;
}

/**
 * Stores a tenant's variants of one event in one locale whole (variants left out fall back to the
 * built-in ones), and raises the tenant's version in the same statement.
 */
export async function putTenantTemplate(
  db: Queryable,
  input: {
    tenantId: string;
    event: string;
    locale: string;
    manifest: Record<string, unknown> | null;
    variants: VariantSources;
  },
): Promise<TenantTemplateRow> {
  const result = await db.query<Row>(
    `WITH bump AS (
       INSERT INTO tenant_template_versions (tenant_id, version)
       VALUES ($1, nextval('tenant_templates_version'))
       ON CONFLICT (tenant_id) DO UPDATE SET version = EXCLUDED.version
       RETURNING version
     )
     INSERT INTO tenant_templates (tenant_id, event, locale, manifest, variants, version)
     SELECT $1, $2, $3, $4, $5, bump.version FROM bump
     ON CONFLICT (tenant_id, event, locale) DO UPDATE
       SET manifest = EXCLUDED.manifest, variants = EXCLUDED.variants,
           version = EXCLUDED.version, updated_at = now()
     RETURNING ${COLUMNS}`,
    [
      input.tenantId,
      input.event,
      input.locale,
      input.manifest === null ? null : JSON.stringify(input.manifest),
      JSON.stringify(input.variants),
    ],
  );
  return toRow(result.rows[0]!);
}

/**
 * Removes a tenant's variants of an event: one locale's ('' = the default), or every locale's when
 * `locale` is undefined. Raises the version when anything went. The number of rows removed.
 */
export async function deleteTenantTemplates(
  db: Queryable,
  tenantId: string,
  event: string,
  locale?: string,
): Promise<number> {
  const result = await db.query<{ removed: number }>(
    `WITH gone AS (
       DELETE FROM tenant_templates
        WHERE tenant_id = $1 AND event = $2 AND ($3::text IS NULL OR locale = $3)
       RETURNING 1
     ), bump AS (
       INSERT INTO tenant_template_versions (tenant_id, version)
       SELECT $1, nextval('tenant_templates_version') WHERE EXISTS (SELECT 1 FROM gone)
       ON CONFLICT (tenant_id) DO UPDATE SET version = EXCLUDED.version
     )
     SELECT count(*)::int AS removed FROM gone`,
    [tenantId, event, locale ?? null],
  );
  return result.rows[0]?.removed ?? 0;
}
