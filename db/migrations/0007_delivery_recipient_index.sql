-- Recipient policies page through a notification's deliveries by recipient: without this index each
-- page rescanned the notification's rows once per recipient (seconds for a few thousand recipients).
CREATE INDEX deliveries_notification_recipient ON deliveries (notification_id, level, external_id);
