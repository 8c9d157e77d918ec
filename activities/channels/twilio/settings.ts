import { z } from 'zod';
import { blankAsUnset } from '../../../common/config';
import { sharedSettings } from '../../../common/shared-settings';

/** The SMS and WhatsApp channels' variables (one Twilio account for both), parsed with the worker's configuration. */
export const twilioSettings = {
  TWILIO_ACCOUNT_SID: blankAsUnset(z.string().startsWith('AC', 'must start with AC')),
  /** Also read by the API (status callbacks): its rule is shared. */
  TWILIO_AUTH_TOKEN: sharedSettings.TWILIO_AUTH_TOKEN,
  /** The SMS sender: a number or a Messaging Service SID. */
  TWILIO_FROM: blankAsUnset(z.string()),
  /** The WhatsApp sender (`whatsapp:+…` or a number). */
  TWILIO_WHATSAPP_FROM: blankAsUnset(z.string()),
  /** Requests go here instead of api.twilio.com: a test double or a proxy (the API's test sends too). */
  TWILIO_API_BASE_URL: sharedSettings.TWILIO_API_BASE_URL,
  /** Sends in flight per channel. */
  TWILIO_MAX_CONCURRENCY: z.coerce.number().int().min(1).default(5),
};
