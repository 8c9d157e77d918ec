-- `suppressed`: a policy decided this delivery must not go out (unsubscribed, on the suppression list,
-- a duplicate, over a throttle), as opposed to `skipped` (cancelled, channel off, no address).
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
  CHECK (status IN ('pending', 'sending', 'retrying', 'sent', 'delivered', 'failed', 'skipped', 'digested', 'suppressed'));
