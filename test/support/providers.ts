import { startPushService, vapid, VAPID_SUBJECT, type PushService } from './push-service';
import { startStack, type Stack } from './stack';
import { ACCOUNT_SID, AUTH_TOKEN, SMS_FROM, TwilioDouble } from './twilio-double';

export interface ProviderStack {
  stack: Stack;
  pushService: PushService;
  twilio: TwilioDouble;
  close(): Promise<void>;
}

/** A stack whose worker has push and SMS configured against loopback stand-ins for the providers. */
export async function startStackWithProviders(): Promise<ProviderStack> {
  const pushService = await startPushService();
  const twilio = new TwilioDouble();
  await twilio.start();
  const stack = await startStack({
    channelEnv: {
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
      VAPID_SUBJECT,
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      TWILIO_FROM: SMS_FROM,
      TWILIO_API_BASE_URL: twilio.url,
      HERALD_ALLOW_LOOPBACK_URLS: 'true',
    },
    apiEnv: { VAPID_PUBLIC_KEY: vapid.publicKey, HERALD_ALLOW_LOOPBACK_URLS: 'true' },
  });
  return {
    stack,
    pushService,
    twilio,
    close: async () => {
      await stack.close();
      await pushService.close();
      await twilio.close();
    },
  };
}
