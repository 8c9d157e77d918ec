-- Policies applied per recipient when a notification is resolved: digests and channel failover.

ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
  CHECK (status IN ('pending', 'sending', 'retrying', 'sent', 'delivered', 'failed', 'skipped', 'digested'));
-- The channel whose permanent failure made this delivery go out (failover); NULL for a first choice.
ALTER TABLE deliveries ADD COLUMN failover_from text;

-- A recipient's ordered channels for failover, e.g. {push,sms,email}: the first that can be used is
-- tried, and each permanent failure moves on to the next.
ALTER TABLE recipients ADD COLUMN failover text[];

-- A delivery turned into an item of the recipient's next digest (sent by the digest workflow).
CREATE TABLE digest_items (
  id               bigserial PRIMARY KEY,
  tenant_id        text NOT NULL,
  external_id      text NOT NULL,
  delivery_id      bigint NOT NULL UNIQUE REFERENCES deliveries (id) ON DELETE CASCADE,
  notification_id  uuid NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
  event            text NOT NULL,
  channel          text NOT NULL,
  data             jsonb NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  sent_at          timestamptz,
  FOREIGN KEY (tenant_id, external_id) REFERENCES recipients (tenant_id, external_id) ON DELETE CASCADE
);
CREATE INDEX digest_items_pending ON digest_items (tenant_id, external_id) WHERE sent_at IS NULL;
