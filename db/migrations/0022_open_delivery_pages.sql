-- The notification workflow pages through a level's open deliveries in send order (quiet-hours group,
-- channel, id) instead of loading every batch at once; without this index each page of a
-- million-recipient notification would sort all of its rows again.
CREATE INDEX deliveries_open_pages ON deliveries
  (notification_id, level, (COALESCE(not_before, '-infinity'::timestamptz)), channel, id)
  WHERE status IN ('pending', 'sending', 'retrying');
