-- Core schema: tenants, recipients, groups, notifications and the delivery log.

CREATE TABLE tenants (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO tenants (id, name) VALUES ('default', 'Default tenant');

CREATE TABLE recipients (
  tenant_id    text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  external_id  text NOT NULL,
  name         text,
  email        text,
  phone        text,
  whatsapp     text,
  timezone     text,
  locale       text,
  quiet_hours  jsonb,
  digest       jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, external_id)
);

CREATE TABLE groups (
  tenant_id    text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  key          text NOT NULL,
  name         text NOT NULL,
  description  text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, key)
);

-- A group is addressed by its key or its name, so names are unique too.
CREATE UNIQUE INDEX groups_tenant_name ON groups (tenant_id, name);

CREATE TABLE group_members (
  tenant_id    text NOT NULL,
  group_key    text NOT NULL,
  external_id  text NOT NULL,
  added_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, group_key, external_id),
  FOREIGN KEY (tenant_id, group_key) REFERENCES groups (tenant_id, key) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, external_id) REFERENCES recipients (tenant_id, external_id) ON DELETE CASCADE
);

CREATE INDEX group_members_recipient ON group_members (tenant_id, external_id);

CREATE TABLE notifications (
  id               uuid PRIMARY KEY,
  tenant_id        text NOT NULL REFERENCES tenants (id),
  event            text NOT NULL,
  priority         text NOT NULL,
  idempotency_key  text,
  request_hash     text NOT NULL,
  request          jsonb NOT NULL,
  status           text NOT NULL DEFAULT 'accepted',
  workflow_id      text NOT NULL,
  recipient_count  integer,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  completed_at     timestamptz,
  CONSTRAINT notifications_status_check CHECK (status IN ('accepted', 'running', 'completed', 'failed', 'cancelled'))
);

-- Idempotency: one notification per tenant and key; concurrent inserts serialise on this index.
CREATE UNIQUE INDEX notifications_idempotency ON notifications (tenant_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX notifications_tenant_created ON notifications (tenant_id, created_at DESC);

CREATE TABLE deliveries (
  id                   bigserial PRIMARY KEY,
  notification_id      uuid NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
  tenant_id            text NOT NULL,
  event                text NOT NULL,
  recipient_key        text NOT NULL,   -- externalId, or 'email:<address>' for a raw address
  external_id          text,
  recipient_name       text,
  channel              text NOT NULL,
  address              text NOT NULL,
  status               text NOT NULL DEFAULT 'pending',
  attempts             integer NOT NULL DEFAULT 0,
  provider_message_id  text,
  error                text,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  sent_at              timestamptz,
  CONSTRAINT deliveries_status_check CHECK (status IN ('pending', 'sending', 'retrying', 'sent', 'failed', 'skipped')),
  -- The delivery key: a retried send finds its own row and sees whether it already went out.
  CONSTRAINT deliveries_delivery_key UNIQUE (notification_id, recipient_key, channel)
);

CREATE INDEX deliveries_tenant_created ON deliveries (tenant_id, created_at DESC, id DESC);
CREATE INDEX deliveries_tenant_recipient ON deliveries (tenant_id, recipient_key);
CREATE INDEX deliveries_notification_status ON deliveries (notification_id, status);
