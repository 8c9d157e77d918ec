-- Access control: API keys (stored as SHA-256 of the key, never the key), per-key rate-limit
-- windows shared by every API process, and per-tenant daily send counters for the channel quotas.

CREATE TABLE api_keys (
  id            text PRIMARY KEY,
  -- NULL: an operator key (schedules, tenant management), which belongs to no tenant.
  tenant_id     text REFERENCES tenants (id) ON DELETE CASCADE,
  name          text NOT NULL,
  prefix        text NOT NULL,
  key_hash      text NOT NULL UNIQUE,
  scopes        text[] NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz,
  CONSTRAINT api_keys_operator_has_no_tenant CHECK ((tenant_id IS NULL) = ('operator' = ANY (scopes)))
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);

-- One fixed window per principal (a key, or an end-user token's recipient), started by its first request.
CREATE TABLE api_rate_limits (
  principal     text PRIMARY KEY,
  window_start  timestamptz NOT NULL,
  count         integer NOT NULL
);

-- Per-tenant daily quotas per channel (NULL: the operator's default from the environment).
ALTER TABLE tenants ADD COLUMN daily_quotas jsonb;

CREATE TABLE tenant_send_usage (
  tenant_id  text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  channel    text NOT NULL,
  day        date NOT NULL,
  count      integer NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, channel, day)
);

-- The tenant 'default' of the single-tenant days goes when nothing uses it; tenants are created explicitly now.
DELETE FROM tenants t
 WHERE t.id = 'default'
   AND NOT EXISTS (SELECT 1 FROM notifications WHERE tenant_id = 'default')
   AND NOT EXISTS (SELECT 1 FROM recipients WHERE tenant_id = 'default')
   AND NOT EXISTS (SELECT 1 FROM groups WHERE tenant_id = 'default')
   AND NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE tenant_id = 'default')
   AND NOT EXISTS (SELECT 1 FROM deadlines WHERE tenant_id = 'default');
