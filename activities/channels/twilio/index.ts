import { offChannel, type ChannelFactory } from '../types';

// Placeholder until the Twilio module lands: the channels report themselves off and their deliveries are skipped.
export const smsChannelFactory: ChannelFactory = () => offChannel('sms', ['(sms channel not built yet)']);
export const whatsappChannelFactory: ChannelFactory = () =>
  offChannel('whatsapp', ['(whatsapp channel not built yet)']);
