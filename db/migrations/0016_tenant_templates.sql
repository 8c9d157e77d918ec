-- A tenant's own template variants: overrides of built-in events and events of its own (`manifest`
-- set on the default-locale row), one row per event and locale ('' = the default locale). `variants`
-- holds the sources (subject, mjml, text, sms, push, inapp) as the tenant sent them; workers compile
-- them. tenant_template_versions.version rises on every change, deletes included, so a worker that
-- compiled a tenant's templates notices any change with one read before its next batch.
CREATE TABLE tenant_templates (
  tenant_id   text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  event       text NOT NULL,
  locale      text NOT NULL DEFAULT '',
  manifest    jsonb,
  variants    jsonb NOT NULL,
  version     bigint NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, event, locale)
);

CREATE SEQUENCE tenant_templates_version;

CREATE TABLE tenant_template_versions (
  tenant_id  text PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  version    bigint NOT NULL
);
