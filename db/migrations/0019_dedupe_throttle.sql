-- Dedupe and throttle across notifications. Each decision is one upsert on these rows, so concurrent
-- notifications serialise on the row of each person instead of reading and then writing.

-- Who first sent this event + rendered key to this person, until when; an expired claim is taken over.
CREATE TABLE dedupe_claims (
  tenant_id        text NOT NULL,
  event            text NOT NULL,
  dedupe_key       text NOT NULL,
  recipient_key    text NOT NULL,
  notification_id  uuid NOT NULL,
  expires_at       timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, event, dedupe_key, recipient_key)
);
CREATE INDEX dedupe_claims_expires ON dedupe_claims (expires_at);

-- One fixed window per person and event, started by the first notification it counts.
CREATE TABLE throttle_windows (
  tenant_id      text NOT NULL,
  event          text NOT NULL,
  recipient_key  text NOT NULL,
  count          integer NOT NULL,
  ends_at        timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, event, recipient_key)
);
CREATE INDEX throttle_windows_ends ON throttle_windows (ends_at);

-- The notifications a window counted, so a retried activity does not count its notification twice.
CREATE TABLE throttle_hits (
  tenant_id        text NOT NULL,
  event            text NOT NULL,
  recipient_key    text NOT NULL,
  notification_id  uuid NOT NULL,
  expires_at       timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, event, notification_id, recipient_key)
);
CREATE INDEX throttle_hits_expires ON throttle_hits (expires_at);
