import { openSecret, sealSecret } from '../secret-box';

/**
 * A tenant's own Twilio account: its account SID and auth token, and its senders for SMS and
 * WhatsApp. Stored as a `twilio` row of tenant_settings: `config` holds the SID and the senders,
 * `secret` the auth token sealed with the secret box. A tenant without the row sends through the
 * operator's `TWILIO_*` settings.
 */

/** Twilio's account SIDs: AC and 32 hex digits. */
export const ACCOUNT_SID_PATTERN = /^AC[0-9a-fA-F]{32}$/;
/** Twilio's auth tokens are 32 hex digits; anything else is a paste mistake (a SID, a space). */
export const AUTH_TOKEN_PATTERN = /^[0-9a-fA-F]{32}$/;
/** A Messaging Service, which picks the sender itself: MG and 32 hex digits. */
export const MESSAGING_SERVICE_SID_PATTERN = /^MG[0-9a-fA-F]{32}$/;
/** E.164, as the recipients' numbers are checked (api/schemas.ts). */
export const E164_PATTERN = /^\+[1-9]\d{6,14}$/;
/** A WhatsApp sender: `whatsapp:` and an E.164 number, or the number alone. */
export const WHATSAPP_FROM_PATTERN = /^(whatsapp:)?\+[1-9]\d{6,14}$/;

/** What a tenant stores: the auth token is sealed, the rest is shown back. */
export interface TwilioSettingsInput {
  accountSid: string;
  authToken: string;
  /** An E.164 number or a Messaging Service SID; none: the tenant sends no SMS. */
  smsFrom: string | null;
  /** `whatsapp:+…` or E.164; none: the tenant sends no WhatsApp. */
  whatsappFrom: string | null;
}

/** A tenant's settings as a channel uses them, with the token opened. */
export interface TwilioSettings extends TwilioSettingsInput {
  /** tenant_settings.version: a client built from older settings is stale. */
  version: number;
}

/** The `config` column of a `twilio` row. */
interface StoredConfig {
  accountSid: string;
  smsFrom: string | null;
  whatsappFrom: string | null;
}

/** The row as db/queries/tenant-settings.ts returns it (the part this module reads). */
export interface StoredTwilioRow {
  config: Record<string, unknown>;
  sealedSecret: string | null;
  version: number;
}

/** `whatsapp:+…` whichever way it was given. */
export const normaliseWhatsappFrom = (from: string): string =>
  from.startsWith('whatsapp:') ? from : `whatsapp:${from}`;

/** The columns to store: the showable config and the sealed token. */
export function sealTwilioSettings(
  input: Omit<TwilioSettingsInput, 'authToken'> & { authToken?: string },
  secretKey: Buffer,
): { config: StoredConfig; sealedSecret: string | undefined } {
  return {
    config: {
      accountSid: input.accountSid,
      smsFrom: input.smsFrom,
      whatsappFrom: input.whatsappFrom === null ? null : normaliseWhatsappFrom(input.whatsappFrom),
    },
    sealedSecret: input.authToken === undefined ? undefined : sealSecret(input.authToken, secretKey),
  };
}

/** The stored row with the token opened; throws SecretBoxError if it was sealed under another key. */
export function openTwilioSettings(row: StoredTwilioRow, secretKey: Buffer): TwilioSettings {
  const config = row.config as Partial<StoredConfig>;
  if (typeof config.accountSid !== 'string' || row.sealedSecret === null)
    throw new Error('stored Twilio settings lack the account SID or the auth token');
  return {
    accountSid: config.accountSid,
    authToken: openSecret(row.sealedSecret, secretKey),
    smsFrom: config.smsFrom ?? null,
    whatsappFrom: config.whatsappFrom ?? null,
    version: row.version,
  };
}

/** `…` and the last 4 characters, so a person can tell two tokens apart without learning either. */
export const authTokenHint = (token: string): string | null =>
  AUTH_TOKEN_PATTERN.test(token) ? `…${token.slice(-4)}` : null;

/** What `GET /v1/settings/twilio` shows: never the token, at most its last 4 characters. */
export interface TwilioSettingsView {
  accountSid: string;
  authTokenSet: true;
  authTokenHint: string | null;
  smsFrom: string | null;
  whatsappFrom: string | null;
  version: number;
  updatedAt: string;
}

export const maskedTwilioSettings = (settings: TwilioSettings, updatedAt: string): TwilioSettingsView => ({
  accountSid: settings.accountSid,
  authTokenSet: true,
  authTokenHint: authTokenHint(settings.authToken),
  smsFrom: settings.smsFrom,
  whatsappFrom: settings.whatsappFrom,
  version: settings.version,
  updatedAt,
});
