-- When each recipient's digest last went out (the period's due instant), so a period never gets two
-- digests however many scheduled runs fall inside it.
ALTER TABLE recipients ADD COLUMN digest_last_sent_at timestamptz;
