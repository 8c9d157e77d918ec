import type { Queryable } from './recipients';

/**
 * The account SID of the tenant's stored Twilio settings that hold a token, locking the row until the
 * transaction ends (a PUT that keeps the token must not race a DELETE); null when there is none.
 */
export async function lockStoredTwilioAccount(db: Queryable, tenantId: string): Promise<string | null> {
  const result = await db.query<{ account_sid: string | null }>(
    `SELECT config->>'accountSid' AS account_sid FROM tenant_settings
      WHERE tenant_id = $1 AND kind = 'twilio' AND secret IS NOT NULL
      FOR UPDATE`,
    [tenantId],
  );
  return result.rows[0]?.account_sid ?? null;
}

/** The tenant whose SMS or WhatsApp delivery has this Twilio message SID; null when none has it (yet). */
export async function tenantOfTwilioMessage(db: Queryable, messageSid: string): Promise<string | null> {
  const result = await db.query<{ tenant_id: string }>(
    `SELECT tenant_id FROM deliveries
      WHERE channel = ANY(ARRAY['sms', 'whatsapp']) AND provider_message_id = $1
      LIMIT 1`,
    [messageSid],
  );
  return result.rows[0]?.tenant_id ?? null;
}
