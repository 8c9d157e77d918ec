-- Every failed send attempt with the provider's answer. The delivery row keeps only the attempt
-- count and the latest error, and "why wasn't X told?" (explain) shows each attempt. A row trigger
-- whose WHEN clause the server checks without calling the function: a send that succeeds, the hot
-- path, writes nothing here; its attempt is the delivery row itself (sent_at, provider message id).
CREATE TABLE delivery_attempts (
  delivery_id   bigint NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
  attempt       integer NOT NULL,
  -- retrying: a temporary failure, tried again; failed: the permanent one, or the last try.
  outcome       text NOT NULL,
  error         text,
  attempted_at  timestamptz NOT NULL,
  PRIMARY KEY (delivery_id, attempt)
);

CREATE FUNCTION record_failed_delivery_attempt() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO delivery_attempts (delivery_id, attempt, outcome, error, attempted_at)
  VALUES (NEW.id, NEW.attempts, NEW.status, NEW.error, NEW.updated_at)
  ON CONFLICT (delivery_id, attempt) DO NOTHING;
  RETURN NULL;
END
$$;

-- A claimed send (`sending`, its attempt counted at the claim) that came back unsent.
CREATE TRIGGER deliveries_failed_attempt
  AFTER UPDATE OF status ON deliveries
  FOR EACH ROW
  WHEN (OLD.status = 'sending' AND NEW.status IN ('retrying', 'failed'))
  EXECUTE FUNCTION record_failed_delivery_attempt();
