-- Channels beyond email: push subscriptions, the in-app inbox, webhook endpoints, provider callbacks.

ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
  CHECK (status IN ('pending', 'sending', 'retrying', 'sent', 'delivered', 'failed', 'skipped'));
-- The provider's own word on a delivery after we sent it (e.g. Twilio: queued, sent, delivered, undelivered).
ALTER TABLE deliveries ADD COLUMN provider_status text;
CREATE INDEX deliveries_provider_message ON deliveries (channel, provider_message_id) WHERE provider_message_id IS NOT NULL;

CREATE TABLE push_subscriptions (
  id            bigserial PRIMARY KEY,
  tenant_id     text NOT NULL,
  external_id   text NOT NULL,
  endpoint      text NOT NULL,
  p256dh        text NOT NULL,
  auth          text NOT NULL,
  user_agent    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  FOREIGN KEY (tenant_id, external_id) REFERENCES recipients (tenant_id, external_id) ON DELETE CASCADE,
  UNIQUE (tenant_id, endpoint)
);
CREATE INDEX push_subscriptions_recipient ON push_subscriptions (tenant_id, external_id);

CREATE TABLE inbox_messages (
  id               uuid PRIMARY KEY,
  tenant_id        text NOT NULL,
  external_id      text NOT NULL,
  notification_id  uuid REFERENCES notifications (id) ON DELETE SET NULL,
  event            text NOT NULL,
  title            text NOT NULL,
  body             text NOT NULL,
  url              text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  read_at          timestamptz,
  archived_at      timestamptz,
  FOREIGN KEY (tenant_id, external_id) REFERENCES recipients (tenant_id, external_id) ON DELETE CASCADE,
  -- One inbox message per notification and recipient, however often the send is retried.
  UNIQUE (notification_id, external_id)
);
CREATE INDEX inbox_messages_recipient ON inbox_messages (tenant_id, external_id, created_at DESC, id DESC);

CREATE TABLE webhook_endpoints (
  id               uuid PRIMARY KEY,
  tenant_id        text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  -- NULL: a tenant-wide endpoint that receives every notification; otherwise one recipient's endpoint.
  external_id      text,
  url              text NOT NULL,
  preset           text NOT NULL DEFAULT 'standard',
  -- whsec_ secrets; the first signs, all are sent as signatures during rotation.
  secrets          text[] NOT NULL,
  disabled_at      timestamptz,
  disabled_reason  text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, external_id) REFERENCES recipients (tenant_id, external_id) ON DELETE CASCADE,
  CONSTRAINT webhook_endpoints_preset_check CHECK (preset IN ('standard', 'slack'))
);
CREATE INDEX webhook_endpoints_recipient ON webhook_endpoints (tenant_id, external_id);
