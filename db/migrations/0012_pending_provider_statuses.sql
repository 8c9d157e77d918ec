-- A provider may call back about a message before the worker has stored its id (Twilio answers the
-- send and posts `sent`/`delivered` independently). Such callbacks wait here, one row per message id
-- and status, and are applied when the send stores the id (db/queries/provider-status.ts).
CREATE TABLE pending_provider_statuses (
  provider_message_id text        NOT NULL,
  status              text        NOT NULL,
  -- The channels the message may belong to (a Twilio SID: sms or whatsapp).
  channels            text[]      NOT NULL,
  error_code          text,
  error_message       text,
  received_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider_message_id, status)
);

-- Ids that no send ever stores (another system's messages on the same account) are pruned by age.
CREATE INDEX pending_provider_statuses_received ON pending_provider_statuses (received_at);
