-- Webhook endpoints may use the `teams` preset: Microsoft Teams (a Workflows or incoming webhook URL)
-- gets an Adaptive Card message, unsigned like Slack's.
ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_preset_check;
ALTER TABLE webhook_endpoints
  ADD CONSTRAINT webhook_endpoints_preset_check CHECK (preset IN ('standard', 'slack', 'teams'));
