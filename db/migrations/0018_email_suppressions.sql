-- The suppression list: raw addresses of a tenant (no recipient record) that unsubscribed from a
-- category of email with a one-click link (RFC 8058). Known recipients' unsubscribes live in their
-- preferences document (`unsubscribed.email`), where the preferences API shows them.
-- An address is stored lowercased, so one person is one row whatever case a request wrote.
CREATE TABLE email_suppressions (
  tenant_id   text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  address     text NOT NULL CHECK (address = lower(address)),
  category    text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, address, category)
);
