-- Each tenant's own delivery setup, one row per kind (smtp, twilio, brand). `config` holds what may be
-- shown; `secret` holds the password or auth token sealed with AES-256-GCM (common/secret-box.ts),
-- never plaintext. `version` rises on every change (and stays in tenant_setting_versions after a
-- delete), so a worker that cached a transport notices the change before its next send.
CREATE TABLE tenant_settings (
  tenant_id   text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  kind        text NOT NULL CHECK (kind IN ('smtp', 'twilio', 'brand')),
  config      jsonb NOT NULL,
  secret      text,
  version     bigint NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, kind)
);

CREATE SEQUENCE tenant_settings_version;
