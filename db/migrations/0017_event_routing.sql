-- An event's default audience per tenant: who a notification of that event reaches when its request
-- names nobody (`to` absent), or in addition to `to` with `includeDefaults`. Groups are referenced as
-- notifications reference them (key or name) and need not exist yet: `herald doctor` names the ones
-- missing. The audience is copied into the notification at acceptance, so changing or deleting a
-- routing never changes a notification already accepted.
CREATE TABLE event_routing (
  tenant_id   text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  event       text NOT NULL,
  groups      text[] NOT NULL DEFAULT '{}',
  recipients  text[] NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, event),
  -- An empty routing would be a routing that reaches nobody: remove it instead.
  CONSTRAINT event_routing_names_someone CHECK (cardinality(groups) + cardinality(recipients) > 0)
);
