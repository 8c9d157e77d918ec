import { offChannel, type ChannelFactory } from '../types';

// Placeholder until the webhook module lands: the channel reports itself off and its deliveries are skipped.
export const webhookChannelFactory: ChannelFactory = () =>
  offChannel('webhook', ['(webhook channel not built yet)']);
