import { offChannel, type ChannelFactory } from '../types';

// Placeholder until the push module lands: the channel reports itself off and its deliveries are skipped.
export const pushChannelFactory: ChannelFactory = () => offChannel('push', ['(push channel not built yet)']);
