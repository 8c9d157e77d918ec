-- Escalation: a notification may reach the same person on the same channel again at a later level.
ALTER TABLE deliveries ADD COLUMN level integer NOT NULL DEFAULT 0;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_delivery_key;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_delivery_key UNIQUE (notification_id, recipient_key, channel, level);
