import { z } from 'zod';
import { parseEnv } from '../../common/config';
import { sharedSettings } from '../../common/shared-settings';
import { emailSettings } from './email/settings';
import { checkVapidPair, pushSettings } from './push/config';
import { twilioSettings } from './twilio/settings';
import { webhookSettings } from './webhook/settings';

/** Variables more than one channel reads (the API reads them too: one schema for both). */
const acrossChannels = {
  PUBLIC_BASE_URL: sharedSettings.PUBLIC_BASE_URL,
  HERALD_SECRET_KEY: sharedSettings.HERALD_SECRET_KEY,
  HERALD_ALLOW_LOOPBACK_URLS: sharedSettings.HERALD_ALLOW_LOOPBACK_URLS,
  HERALD_DNS_SERVERS: sharedSettings.HERALD_DNS_SERVERS,
};

/**
 * Every channel's variables. The worker spreads this into its one configuration schema (and adds
 * `refineChannelSettings`), so a bad channel setting stops the worker at start, named.
 */
export const channelSettingsShape = {
  ...acrossChannels,
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
