-- A webhook URL is a credential (a Slack incoming-webhook URL is all it takes to post to a channel):
-- deliveries now name their endpoint as `webhook:<endpoint id>` instead of holding its URL. Rewrites
-- the delivery log written before, so no URL stays in it. Idempotent: only URL-shaped addresses change.
-- (The URLs in webhook_endpoints are sealed by the worker at start, which holds HERALD_SECRET_KEY.)

-- The endpoint still exists (its URL is still plain text here): name it by id.
UPDATE deliveries d
   SET address = 'webhook:' || w.id
  FROM webhook_endpoints w
 WHERE d.channel = 'webhook'
   AND d.address ~ '^https?://'
   AND w.tenant_id = d.tenant_id
   AND w.url = d.address;

-- The endpoint is gone: keep scheme, host and a first plain path word, as the API masks URLs.
UPDATE deliveries
   SET address = regexp_replace(address, '^(https?://[^/?#]+)(/[a-z][a-z-]{0,15})?([/?#].*)?$', '\1\2/****')
 WHERE channel = 'webhook'
   AND address ~ '^https?://'
   AND address !~ '/\*\*\*\*$';
