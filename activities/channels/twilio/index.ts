import twilio from 'twilio';
import {
  missingSettings,
  offChannel,
  type Channel,
  type ChannelFactory,
  type DeliveryTarget,
  type SendFailure,
} from '../types';
import { responseNotes, TwilioHttpClient, type ResponseNotes } from './http-client';

export { parseRetryAfter, TwilioHttpClient } from './http-client';

/** Where Twilio posts message status callbacks, below `PUBLIC_BASE_URL`. */
export const TWILIO_STATUS_CALLBACK_PATH = '/v1/providers/twilio/status';

/** Twilio refuses longer message bodies (error 21617); longer text fails before any request. */
export const MAX_BODY_CHARACTERS = 1600;

/**
 * Twilio error codes that no retry can fix: the delivery fails at once. Any other 4xx is permanent
 * too; these are listed so they stay permanent whatever HTTP status carries them.
 * https://www.twilio.com/docs/api/errors
 */
export const TWILIO_PERMANENT_ERRORS: Readonly<Record<number, string>> = {
  20003: 'authentication failed (wrong account SID or auth token)',
  20404: 'resource not found (wrong account SID, or the sender does not exist)',
  21211: "invalid 'To' phone number",
  21408: 'no permission to send to this region',
  21606: "the 'From' number cannot send to this destination",
  21610: 'the recipient replied STOP (unsubscribed)',
  21612: "the 'To' number cannot be reached from the 'From' number",
  21614: "the 'To' number is not a mobile number",
  21617: 'message body longer than 1600 characters',
  63016: 'WhatsApp: outside the 24-hour session window; a pre-approved template is required',
  63024: 'WhatsApp: invalid message recipient',
};

/** The subset of the twilio client a channel uses (a fake in unit tests). */
export interface TwilioMessages {
  messages: {
    create(params: { to: string; from: string; body: string; statusCallback?: string }): Promise<{
      sid: string;
    }>;
  };
}

/** A message body too long for Twilio, refused before a request is made. */
export class MessageTooLongError extends Error {
  constructor(readonly characters: number) {
    super(`message body has ${characters} characters, more than Twilio's ${MAX_BODY_CHARACTERS}`);
    this.name = 'MessageTooLongError';
  }
}

/** Retry-After of failed requests, by error object (the library's errors do not carry headers). */
const retryAfterOf = new WeakMap<object, number>();

interface TwilioErrorShape {
  /** HTTP status (RestException, TwilioServiceException). */
  status?: unknown;
  /** Twilio's error code, e.g. 21211. */
  code?: unknown;
  message?: unknown;
}

/**
 * Twilio's answers: an error code in {@link TWILIO_PERMANENT_ERRORS} or any other 4xx is permanent;
 * 429 and 5xx are retried (after the response's `Retry-After`, when it sent one); errors without an
 * HTTP status (connection refused, reset, timeout) are retried.
 */
export function classifyTwilioError(error: unknown): SendFailure {
  if (error instanceof MessageTooLongError) return { kind: 'permanent', reason: error.message };
  const e = (error ?? {}) as TwilioErrorShape;
  const message = typeof e.message === 'string' ? e.message : String(error);
  const code = typeof e.code === 'number' ? e.code : undefined;
  if (typeof e.status === 'number') {
    const status = e.status;
    const reason = code === undefined ? `Twilio HTTP ${status}: ${message}` : `Twilio ${code}: ${message}`;
    if (code !== undefined && code in TWILIO_PERMANENT_ERRORS) return { kind: 'permanent', reason };
    if (status === 429 || status >= 500) {
      const retryAfterMs = typeof error === 'object' && error ? retryAfterOf.get(error) : undefined;
      return retryAfterMs === undefined
        ? { kind: 'transient', reason }
        : { kind: 'transient', reason, retryAfterMs };
    }
    if (status >= 400) return { kind: 'permanent', reason };
    return { kind: 'transient', reason };
  }
  // No HTTP answer: the network (ECONNREFUSED, ECONNRESET, ETIMEDOUT…) may do better next time.
  const networkCode = typeof e.code === 'string' ? e.code : undefined;
  return { kind: 'transient', reason: networkCode ? `${networkCode}: ${message}` : message };
}

export interface TwilioChannelOptions {
  name: 'sms' | 'whatsapp';
  client: TwilioMessages;
  /** The sender: an E.164 number (or a messaging sender id); `whatsapp:` is added for WhatsApp. */
  from: string;
  /** Absolute URL Twilio posts status callbacks to; none when unset. */
  statusCallback?: string;
  concurrency?: number;
}

/** `whatsapp:+E164` for WhatsApp, the number itself for SMS. */
export const twilioAddress = (channel: 'sms' | 'whatsapp', number: string): string =>
  channel === 'whatsapp' && !number.startsWith('whatsapp:') ? `whatsapp:${number}` : number;

/** SMS or WhatsApp through Twilio's Messages API; the text is the template's SMS variant. */
export function createTwilioChannel({
  name,
  client,
  from,
  statusCallback,
  concurrency = 5,
}: TwilioChannelOptions): Channel<string> {
  const sender = twilioAddress(name, from);
  return {
    name,
    concurrency,
    render: (templates, event, context) => templates.renderSms(event, context),
    async send(target: DeliveryTarget, body: string) {
      const characters = [...body].length;
      if (characters > MAX_BODY_CHARACTERS) throw new MessageTooLongError(characters);
      const notes: ResponseNotes = {};
      try {
        const message = await responseNotes.run(notes, () =>
          client.messages.create({
            to: twilioAddress(name, target.address),
            from: sender,
            body,
            statusCallback,
          }),
        );
        return { providerMessageId: message.sid };
      } catch (error) {
        if (notes.retryAfterMs !== undefined && typeof error === 'object' && error)
          retryAfterOf.set(error, notes.retryAfterMs);
        throw error;
      }
    },
    classify: classifyTwilioError,
  };
}

const BASE_SETTINGS = ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN'];

/**
 * One factory per channel over the same settings: `TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN`, the
 * sender (`TWILIO_FROM` for SMS, `TWILIO_WHATSAPP_FROM` for WhatsApp), and optionally
 * `TWILIO_API_BASE_URL` (requests go there instead of api.twilio.com: a test double or a proxy),
 * `PUBLIC_BASE_URL` (messages ask for status callbacks at `<PUBLIC_BASE_URL>/v1/providers/twilio/status`)
 * and `TWILIO_MAX_CONCURRENCY` (sends in flight per channel, default 5).
 */
function twilioChannelFactory(name: 'sms' | 'whatsapp', fromSetting: string): ChannelFactory {
  return ({ env }) => {
    const missing = missingSettings(env, [...BASE_SETTINGS, fromSetting]);
    if (missing.length > 0) return offChannel(name, missing);
    const accountSid = env.TWILIO_ACCOUNT_SID!;
    if (!accountSid.startsWith('AC')) throw new Error('TWILIO_ACCOUNT_SID must start with AC');
    const concurrency = Number(env.TWILIO_MAX_CONCURRENCY ?? 5);
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new Error('TWILIO_MAX_CONCURRENCY must be a whole number ≥ 1');
    const statusCallback = env.PUBLIC_BASE_URL ? statusCallbackUrl(env.PUBLIC_BASE_URL) : undefined;
    const httpClient = new TwilioHttpClient({ apiBaseUrl: env.TWILIO_API_BASE_URL, maxSockets: concurrency });
    const client = twilio(accountSid, env.TWILIO_AUTH_TOKEN!, { httpClient, autoRetry: false });
    const from = env[fromSetting]!;
    const via = env.TWILIO_API_BASE_URL ? `via ${env.TWILIO_API_BASE_URL}` : 'via api.twilio.com';
    const callbacks = statusCallback
      ? `status callbacks to ${statusCallback}`
      : 'no status callbacks (PUBLIC_BASE_URL is not set)';
    return {
      channel: createTwilioChannel({ name, client, from, statusCallback, concurrency }),
      report: `${name}: on (from ${twilioAddress(name, from)}, ${via}, ${callbacks})`,
      close: () => httpClient.close(),
    };
  };
}

/** `<PUBLIC_BASE_URL>/v1/providers/twilio/status`, the URL the callback route verifies signatures over. */
export function statusCallbackUrl(publicBaseUrl: string): string {
  const url = new URL(publicBaseUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`PUBLIC_BASE_URL must start with http:// or https://, got ${url.protocol}//`);
  return `${publicBaseUrl.replace(/\/+$/, '')}${TWILIO_STATUS_CALLBACK_PATH}`;
}

export const smsChannelFactory: ChannelFactory = twilioChannelFactory('sms', 'TWILIO_FROM');
export const whatsappChannelFactory: ChannelFactory = twilioChannelFactory(
  'whatsapp',
  'TWILIO_WHATSAPP_FROM',
);
