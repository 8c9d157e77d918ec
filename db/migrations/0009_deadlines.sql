-- Deadlines: items a backend registers with a due time; the overdue workflow notifies about open ones past due.
CREATE TABLE deadlines (
  tenant_id        text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  key              text        NOT NULL,
  due_at           timestamptz NOT NULL,
  event            text        NOT NULL,
  audience         jsonb       NOT NULL,
  data             jsonb       NOT NULL DEFAULT '{}',
  status           text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
  done_at          timestamptz,
  last_notified_at timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, key)
);

-- The overdue scan: open items by due time.
CREATE INDEX deadlines_open_due ON deadlines (due_at) WHERE status = 'open';
