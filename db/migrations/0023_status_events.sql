-- Status events to backends: a tenant registers event endpoints; state changes of its notifications
-- and deliveries become outbox rows, written by statement-level triggers in the same transaction as
-- the change (so an event exists exactly when its change committed, and no send code changes), and
-- a dispatcher in the worker POSTs them signed, retrying with backoff (worker/status-events/).

CREATE TABLE event_endpoints (
  id          uuid PRIMARY KEY,
  tenant_id   text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  -- Sealed with the secret box, as webhook endpoint URLs (a URL can be a credential).
  url         text NOT NULL,
  -- whsec_ secrets, sealed, newest first; the newest signs, all sign during a rotation.
  secrets     text[] NOT NULL,
  -- The event types it receives; NULL: every type.
  types       text[],
  description text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX event_endpoints_tenant ON event_endpoints (tenant_id, created_at);

-- The outbox: one row per event and endpoint. `event_id` is shared by the endpoints an event goes
-- to and gives the stable `webhook-id`; `body` is the exact JSON sent on every attempt and replay.
CREATE TABLE status_events (
  endpoint_id      uuid NOT NULL REFERENCES event_endpoints (id) ON DELETE CASCADE,
  event_id         uuid NOT NULL,
  -- Newest-first order of the history, and its cursor.
  seq              bigserial NOT NULL,
  tenant_id        text NOT NULL,
  type             text NOT NULL,
  notification_id  uuid NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
  body             jsonb NOT NULL,
  state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  -- Failed attempts since the event was written or last replayed: the backoff and the attempt cap.
  failures         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  -- The dispatcher's claim on an attempt in flight; a replay clears it, so a late answer to the old
  -- attempt is logged but does not end the replayed event.
  claim            uuid,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  PRIMARY KEY (endpoint_id, event_id)
);
CREATE UNIQUE INDEX status_events_seq ON status_events (seq);
CREATE INDEX status_events_due ON status_events (next_attempt_at) WHERE state = 'pending';
CREATE INDEX status_events_history ON status_events (endpoint_id, seq DESC);
CREATE INDEX status_events_notification ON status_events (notification_id);

-- Every POST of an event to an endpoint, and what came back.
CREATE TABLE status_event_attempts (
  id               bigserial PRIMARY KEY,
  endpoint_id      uuid NOT NULL,
  event_id         uuid NOT NULL,
  attempted_at     timestamptz NOT NULL,
  duration_ms      integer NOT NULL,
  http_status      integer,
  error            text,
  -- When the event is tried again after this attempt; NULL: it was delivered, or it gave up.
  next_attempt_at  timestamptz,
  FOREIGN KEY (endpoint_id, event_id) REFERENCES status_events (endpoint_id, event_id) ON DELETE CASCADE
);
CREATE INDEX status_event_attempts_event ON status_event_attempts (endpoint_id, event_id, id);

-- A state change as the triggers see it; `data` is the payload's `data` (nulls dropped).
CREATE TYPE status_event_change AS (tenant_id text, type text, notification_id uuid, data jsonb);

-- Writes one outbox row per change and endpoint of its tenant that takes its type; returns how many.
CREATE FUNCTION enqueue_status_events(changes status_event_change[]) RETURNS integer
LANGUAGE sql AS $$
  WITH ev AS MATERIALIZED (
    SELECT gen_random_uuid() AS event_id, c.ord, c.tenant_id, c.type, c.notification_id,
           jsonb_build_object(
             'type', c.type,
             'timestamp', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
             'data', jsonb_strip_nulls(c.data)) AS body
      FROM unnest(changes) WITH ORDINALITY AS c(tenant_id, type, notification_id, data, ord)
  ), written AS (
    INSERT INTO status_events (endpoint_id, event_id, tenant_id, type, notification_id, body)
    SELECT ep.id, ev.event_id, ev.tenant_id, ev.type, ev.notification_id, ev.body
      FROM ev
      JOIN event_endpoints ep ON ep.tenant_id = ev.tenant_id AND (ep.types IS NULL OR ev.type = ANY (ep.types))
     ORDER BY ev.ord, ep.id  -- the history's order is the changes' order
    RETURNING 1
  )
  SELECT count(*)::int FROM written
$$;

-- The event a delivery's new status means, if any. A failover standby is `skipped` only until it is
-- woken or the notification ends, so it is no event; `digested` waits for the digest's own send.
CREATE FUNCTION status_event_type_of_delivery(status text, error text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
    WHEN status = 'sent' THEN 'delivery.sent'
    WHEN status = 'failed' THEN 'delivery.failed'
    WHEN status = 'delivered' THEN 'delivery.delivered'
    WHEN status = 'suppressed' THEN 'delivery.suppressed'
    WHEN status = 'skipped' AND NOT starts_with(COALESCE(error, ''), 'failover standby') THEN 'delivery.suppressed'
  END
$$;

-- Deliveries: rows inserted already ended (no address → skipped) and every status change; `read`
-- (WhatsApp) is a provider status after `delivered`. One cheap look first: tenants without an
-- endpoint pay for nothing more, which keeps the send path as fast as before.
CREATE FUNCTION status_events_from_deliveries() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM event_endpoints) THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    PERFORM enqueue_status_events(ARRAY(
      SELECT ROW(n.tenant_id, t.type, n.notification_id,
                 jsonb_build_object('notificationId', n.notification_id, 'idempotencyKey', nt.idempotency_key,
                   'event', n.event, 'deliveryId', n.id::text, 'channel', n.channel,
                   'recipient', COALESCE(n.external_id, n.recipient_key), 'status', n.status, 'reason', n.error)
                )::status_event_change
        FROM n
        JOIN notifications nt ON nt.id = n.notification_id
        CROSS JOIN LATERAL (SELECT status_event_type_of_delivery(n.status, n.error) AS type) t
       WHERE t.type IS NOT NULL
         AND n.tenant_id IN (SELECT tenant_id FROM event_endpoints)
       ORDER BY n.id));
  ELSE
    PERFORM enqueue_status_events(ARRAY(
      SELECT ROW(n.tenant_id, t.type, n.notification_id,
                 jsonb_build_object('notificationId', n.notification_id, 'idempotencyKey', nt.idempotency_key,
                   'event', n.event, 'deliveryId', n.id::text, 'channel', n.channel,
                   'recipient', COALESCE(n.external_id, n.recipient_key), 'status', n.status, 'reason', n.error)
                )::status_event_change
        FROM n
        JOIN o ON o.id = n.id
        JOIN notifications nt ON nt.id = n.notification_id
        CROSS JOIN LATERAL (VALUES
          (1, CASE WHEN n.status IS DISTINCT FROM o.status THEN status_event_type_of_delivery(n.status, n.error) END),
          (2, CASE WHEN n.provider_status = 'read' AND o.provider_status IS DISTINCT FROM 'read' THEN 'delivery.read' END)
        ) AS t(rank, type)
       WHERE t.type IS NOT NULL
         AND n.tenant_id IN (SELECT tenant_id FROM event_endpoints)
       ORDER BY n.id, t.rank));
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER deliveries_status_events_insert
  AFTER INSERT ON deliveries REFERENCING NEW TABLE AS n
  FOR EACH STATEMENT EXECUTE FUNCTION status_events_from_deliveries();
CREATE TRIGGER deliveries_status_events_update
  AFTER UPDATE ON deliveries REFERENCING NEW TABLE AS n OLD TABLE AS o
  FOR EACH STATEMENT EXECUTE FUNCTION status_events_from_deliveries();

-- Notifications: reaching completed, failed or cancelled. (Acknowledgement lives in the workflow;
-- the API writes its event: db/queries/status-events.ts.)
CREATE FUNCTION status_events_from_notifications() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM event_endpoints) THEN
    RETURN NULL;
  END IF;
  PERFORM enqueue_status_events(ARRAY(
    SELECT ROW(n.tenant_id, 'notification.' || n.status, n.id,
               jsonb_build_object('notificationId', n.id, 'idempotencyKey', n.idempotency_key,
                 'event', n.event, 'status', n.status)
              )::status_event_change
      FROM n
      JOIN o ON o.id = n.id
     WHERE n.status IS DISTINCT FROM o.status
       AND n.status IN ('completed', 'failed', 'cancelled')
       AND n.tenant_id IN (SELECT tenant_id FROM event_endpoints)
     ORDER BY n.id));
  RETURN NULL;
END
$$;

CREATE TRIGGER notifications_status_events_update
  AFTER UPDATE ON notifications REFERENCING NEW TABLE AS n OLD TABLE AS o
  FOR EACH STATEMENT EXECUTE FUNCTION status_events_from_notifications();
