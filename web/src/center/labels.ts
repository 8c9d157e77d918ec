/** Display names for channels and categories (the API speaks in keys). */
const CHANNEL_NAMES: Record<string, string> = {
  email: 'Email',
  push: 'Push',
  sms: 'SMS',
  whatsapp: 'WhatsApp',
  inapp: 'In-app',
  webhook: 'Webhook',
};

export const channelName = (channel: string) => CHANNEL_NAMES[channel] ?? channel;

export const categoryName = (category: string) =>
  category.charAt(0).toUpperCase() + category.slice(1).replace(/[_-]+/g, ' ');
