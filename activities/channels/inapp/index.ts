import { offChannel, type ChannelFactory } from '../types';

// Placeholder until the inapp module lands: the channel reports itself off and its deliveries are skipped.
export const inappChannelFactory: ChannelFactory = () =>
  offChannel('inapp', ['(inapp channel not built yet)']);
