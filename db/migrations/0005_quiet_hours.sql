-- Quiet hours: a delivery that may not go out before a time (the end of its recipient's quiet hours).
ALTER TABLE deliveries ADD COLUMN not_before timestamptz;
