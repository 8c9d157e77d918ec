-- Preferences: one JSON document per recipient, and one per group as defaults for its members.
-- The document's shape and the resolution order live in common/preferences.ts.

CREATE TABLE preferences (
  tenant_id    text NOT NULL,
  external_id  text NOT NULL,
  document     jsonb NOT NULL DEFAULT '{}',
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, external_id),
  FOREIGN KEY (tenant_id, external_id) REFERENCES recipients (tenant_id, external_id) ON DELETE CASCADE,
  CONSTRAINT preferences_document_object CHECK (jsonb_typeof(document) = 'object')
);

CREATE TABLE group_preferences (
  tenant_id    text NOT NULL,
  group_key    text NOT NULL,
  document     jsonb NOT NULL DEFAULT '{}',
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, group_key),
  FOREIGN KEY (tenant_id, group_key) REFERENCES groups (tenant_id, key) ON DELETE CASCADE,
  CONSTRAINT group_preferences_document_object CHECK (jsonb_typeof(document) = 'object')
);
