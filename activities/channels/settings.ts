import { z } from 'zod';
import { blankAsUnset, parseEnv, secretKeyText } from '../../common/config';
import { emailSettings } from './email/settings';
import { checkVapidPair, pushSettings } from './push/config';
import { twilioSettings } from './twilio/settings';
import { webhookSettings } from './webhook/settings';

/** Variables more than one channel reads. */
const sharedSettings = {
  /** The API's public URL: Twilio status callbacks are asked for under it. */
  PUBLIC_BASE_URL: blankAsUnset(z.url()),
  /** Opens tenants' sealed secrets and webhook endpoints' signing secrets. */
  HERALD_SECRET_KEY: blankAsUnset(secretKeyText),
  /** Development only: push, webhook and tenant SMTP hosts may be loopback addresses. */
  HERALD_ALLOW_LOOPBACK_URLS: z.enum(['true', 'false']).default('false'),
  /** DNS servers (comma-separated host:port) that resolve endpoint hosts; the system's if unset. */
  HERALD_DNS_SERVERS: blankAsUnset(z.string()),
};

/**
 * Every channel's variables. The worker spreads this into its one configuration schema (and adds
 * `refineChannelSettings`), so a bad channel setting stops the worker at start, named.
 */
export const channelSettingsShape = {
  ...sharedSettings,
  ...emailSettings,
  ...pushSettings,
  ...twilioSettings,
  ...webhookSettings,
};

/** The checks across channel variables. */
export const refineChannelSettings = checkVapidPair;

const schema = z.object(channelSettingsShape).superRefine(refineChannelSettings);

/** The channels' slice of the worker's configuration: what each channel factory is given. */
export type ChannelSettings = z.infer<typeof schema>;

/** Channel settings from variables alone (tests, the bench); the worker parses them with its configuration. */
export function channelSettings(env: NodeJS.ProcessEnv): ChannelSettings {
  return parseEnv(schema, env, 'channel');
}
