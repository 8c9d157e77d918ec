import type { ChannelName } from '../../common/types';
import { emailChannelFactory } from './email';
import { inappChannelFactory } from './inapp';
import { pushChannelFactory } from './push';
import { smsChannelFactory, whatsappChannelFactory } from './twilio';
import type { ChannelBuild, ChannelContext, ChannelFactory, ChannelRegistry } from './types';
import { webhookChannelFactory } from './webhook';

/** Every channel's module; a new channel fails to compile until it is listed here. */
export const CHANNEL_FACTORIES = {
  email: emailChannelFactory,
  push: pushChannelFactory,
  sms: smsChannelFactory,
  whatsapp: whatsappChannelFactory,
  inapp: inappChannelFactory,
  webhook: webhookChannelFactory,
} satisfies Record<ChannelName, ChannelFactory>;

export interface ChannelSetup {
  channels: ChannelRegistry;
  /** One line per channel: on, or off and why. */
  report: string[];
  close(): Promise<void>;
}

/** Builds every channel from the worker's channel settings; a channel with missing settings is off, never fatal. */
export function buildChannels(context: ChannelContext): ChannelSetup {
  const builds = Object.entries(CHANNEL_FACTORIES).map(
    ([name, factory]) => [name, factory(context)] as const,
  );
  const channels = Object.fromEntries(
    builds.map(([name, build]) => [name, build.channel]),
  ) as ChannelRegistry;
  return {
    channels,
    report: builds.map(([, build]) => build.report),
    close: async () => {
      await Promise.all(builds.map(([, build]: readonly [string, ChannelBuild]) => build.close()));
    },
  };
}
