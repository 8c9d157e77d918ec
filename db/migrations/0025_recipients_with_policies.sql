-- Resolving a notification first asks whether the tenant keeps any recipient policy at all
-- (db/queries/policies.ts, tenantHasPolicies); with none it skips the per-recipient pass. Its
-- recipients part read every one of the tenant's recipients when none has a digest or failover, so
-- each notification cost more the more people a tenant had (0.58 ms of PostgreSQL per notification
-- at 1,000 recipients). This index holds only the recipients that have one.
CREATE INDEX recipients_with_policies ON recipients (tenant_id)
  WHERE digest IS NOT NULL OR failover IS NOT NULL;
