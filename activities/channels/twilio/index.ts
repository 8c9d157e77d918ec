import twilio from 'twilio';
import { MESSAGING_SERVICE_SID_PATTERN } from '../../../common/settings/twilio';
import { SecretBoxError, secretKeyIfSet } from '../../../common/secret-box';
import {
  ChannelNotConfiguredError,
  missingSettings,
  offChannel,
  type Channel,
  type ChannelFactory,
  type DeliveryTarget,
  type SendFailure,
} from '../types';
import { renderWhatsAppContent, type WhatsAppContent } from './content-template';
import { responseNotes, TwilioHttpClient, type ResponseNotes } from './http-client';
import { TenantTwilioAccounts, TenantTwilioUnavailableError } from './tenant-accounts';

export { parseRetryAfter, TwilioHttpClient } from './http-client';
export type { WhatsAppContent } from './content-template';

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

/** The fields of a message Herald sets (the twilio library form-encodes them as To, From…). */
export interface TwilioMessageParams {
  to: string;
  /** The sender, or instead `messagingServiceSid` (a Messaging Service picks the sender). */
  from?: string;
  messagingServiceSid?: string;
  /** Free text, or instead an approved WhatsApp template: `contentSid` + `contentVariables`. */
  body?: string;
  contentSid?: string;
  contentVariables?: string;
  statusCallback?: string;
}

/** The subset of the twilio client a channel uses (a fake in unit tests). */
export interface TwilioMessages {
  messages: {
    create(params: TwilioMessageParams): Promise<{ sid: string }>;
  };
}

/** What an SMS or WhatsApp delivery sends: the SMS text, or a WhatsApp content template. */
export type TwilioContent = string | WhatsAppContent;

/** Where one message goes out from: an account's client, its sender, and the callback URL. */
export interface TwilioAccount {
  client: TwilioMessages;
  /** E.164, `whatsapp:+…`, or a Messaging Service SID (MG…). */
  from: string;
  statusCallback?: string;
}

/** The tenant's own Twilio settings have no sender for this channel: its deliveries are skipped. */
export class TwilioSenderMissingError extends Error {
  constructor(readonly channel: 'sms' | 'whatsapp') {
    const field = channel === 'sms' ? 'smsFrom' : 'whatsappFrom';
    super(
      `the tenant's own Twilio settings have no ${channel === 'sms' ? 'SMS' : 'WhatsApp'} sender (${field})`,
    );
    this.name = 'TwilioSenderMissingError';
  }
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
  /** The one account every message uses, when `accountFor` is not given. */
  client?: TwilioMessages;
  /** The sender: an E.164 number or a Messaging Service SID; `whatsapp:` is added for WhatsApp. */
  from?: string;
  /** Absolute URL Twilio posts status callbacks to; none when unset. */
  statusCallback?: string;
  /** Picks the account per delivery (the tenant's own, else the operator's); wins over `client`. */
  accountFor?: (target: DeliveryTarget) => Promise<TwilioAccount>;
  concurrency?: number;
}

/** `whatsapp:+E164` for WhatsApp, the number itself for SMS. */
export const twilioAddress = (channel: 'sms' | 'whatsapp', number: string): string =>
  channel === 'whatsapp' && !number.startsWith('whatsapp:') ? `whatsapp:${number}` : number;

/** The sender fields: a Messaging Service by its SID, a number as `From` (`whatsapp:` for WhatsApp). */
function senderFields(
  channel: 'sms' | 'whatsapp',
  from: string,
): Pick<TwilioMessageParams, 'from' | 'messagingServiceSid'> {
  return MESSAGING_SERVICE_SID_PATTERN.test(from)
    ? { messagingServiceSid: from }
    : { from: twilioAddress(channel, from) };
}

/**
 * SMS or WhatsApp through Twilio's Messages API. The text is the template's SMS variant; a WhatsApp
 * message of an event whose manifest declares an approved content template (`whatsapp.contentSid`)
 * sends that template with its rendered variables instead. Herald receives no inbound messages, so
 * it never knows whether a 24-hour session is open: an event with a template always uses it (valid
 * inside and outside a session); one without sends free text, which Twilio refuses outside a session
 * (63016, permanent).
 */
export function createTwilioChannel({
  name,
  client,
  from,
  statusCallback,
  accountFor,
  concurrency = 5,
}: TwilioChannelOptions): Channel<TwilioContent> {
  const fixed: TwilioAccount | undefined =
    client && from !== undefined ? { client, from, statusCallback } : undefined;
  const pick =
    accountFor ??
    (async () => {
      if (!fixed) throw new Error('createTwilioChannel needs accountFor, or client and from');
      return fixed;
    });
  return {
    name,
    concurrency,
    render(templates, event, context) {
      const contentTemplate = name === 'whatsapp' ? templates.manifest(event)?.whatsapp : undefined;
      return contentTemplate
        ? renderWhatsAppContent(event, contentTemplate, context)
        : templates.renderSms(event, context);
    },
    async send(target: DeliveryTarget, content: TwilioContent) {
      if (typeof content === 'string') {
        const characters = [...content].length;
        if (characters > MAX_BODY_CHARACTERS) throw new MessageTooLongError(characters);
      }
      const account = await pick(target);
      const params: TwilioMessageParams = {
        to: twilioAddress(name, target.address),
        ...senderFields(name, account.from),
        ...(typeof content === 'string'
          ? { body: content }
          : { contentSid: content.contentSid, contentVariables: content.contentVariables }),
        ...(account.statusCallback ? { statusCallback: account.statusCallback } : {}),
      };
      const notes: ResponseNotes = {};
      try {
        const message = await responseNotes.run(notes, () => account.client.messages.create(params));
        return { providerMessageId: message.sid };
      } catch (error) {
        if (notes.retryAfterMs !== undefined && typeof error === 'object' && error)
          retryAfterOf.set(error, notes.retryAfterMs);
        throw error;
      }
    },
    classify(error) {
      // No account to send from (settings missing here or for this tenant): skipped, like an off channel.
      if (
        error instanceof ChannelNotConfiguredError ||
        error instanceof TwilioSenderMissingError ||
        error instanceof TenantTwilioUnavailableError
      )
        return { kind: 'skipped', reason: error.message };
      if (error instanceof SecretBoxError) return { kind: 'permanent', reason: error.message };
      return classifyTwilioError(error);
    },
  };
}

const BASE_SETTINGS = ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN'] as const;

/**
 * One factory per channel over the same settings: `TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN`, the
 * sender (`TWILIO_FROM` for SMS, `TWILIO_WHATSAPP_FROM` for WhatsApp), and optionally
 * `TWILIO_API_BASE_URL` (requests go there instead of api.twilio.com: a test double or a proxy),
 * `PUBLIC_BASE_URL` (messages ask for status callbacks at `<PUBLIC_BASE_URL>/v1/providers/twilio/status`)
 * and `TWILIO_MAX_CONCURRENCY` (sends in flight per channel, default 5).
 *
 * A tenant with its own Twilio settings (PUT /v1/settings/twilio) sends through its own account and
 * senders, whatever the operator's settings; its callbacks name it (`?tenant=`), so the API verifies
 * them with its token. Without the operator's settings the channel still serves such tenants (with
 * HERALD_SECRET_KEY, which opens their tokens); the others' deliveries are skipped.
 */
function twilioChannelFactory(
  name: 'sms' | 'whatsapp',
  fromSetting: 'TWILIO_FROM' | 'TWILIO_WHATSAPP_FROM',
): ChannelFactory {
  return (context) => {
    const { settings, db } = context;
    const missing = missingSettings(settings, [...BASE_SETTINGS, fromSetting]);
    const secretKey = secretKeyIfSet(settings);
    // Without the key no tenant's token can be opened, so nobody could send.
    if (missing.length > 0 && !secretKey) return offChannel(name, missing);
    const concurrency = settings.TWILIO_MAX_CONCURRENCY;
    const statusCallback = settings.PUBLIC_BASE_URL ? statusCallbackUrl(settings.PUBLIC_BASE_URL) : undefined;
    const via = settings.TWILIO_API_BASE_URL ? `via ${settings.TWILIO_API_BASE_URL}` : 'via api.twilio.com';
    const callbacks = statusCallback
      ? `status callbacks to ${statusCallback}`
      : 'no status callbacks (PUBLIC_BASE_URL is not set)';

    let operator: TwilioAccount | undefined;
    let operatorHttp: TwilioHttpClient | undefined;
    if (missing.length === 0) {
      const accountSid = settings.TWILIO_ACCOUNT_SID!;
      operatorHttp = new TwilioHttpClient({
        apiBaseUrl: settings.TWILIO_API_BASE_URL,
        maxSockets: concurrency,
      });
      const client = twilio(accountSid, settings.TWILIO_AUTH_TOKEN!, {
        httpClient: operatorHttp,
        autoRetry: false,
      });
      operator = { client, from: settings[fromSetting]!, statusCallback };
    }
    const tenants = new TenantTwilioAccounts({
      db,
      secretKey,
      apiBaseUrl: settings.TWILIO_API_BASE_URL,
      maxSockets: concurrency,
    });

    const accountFor = async (target: DeliveryTarget): Promise<TwilioAccount> => {
      const own = await tenants.accountFor(target.tenantId);
      if (own) {
        const from = name === 'sms' ? own.settings.smsFrom : own.settings.whatsappFrom;
        if (!from) throw new TwilioSenderMissingError(name);
        return {
          client: own.client,
          from,
          statusCallback: statusCallback && tenantStatusCallbackUrl(statusCallback, target.tenantId),
        };
      }
      if (!operator) throw new ChannelNotConfiguredError(name, missing);
      return operator;
    };

    const operatorReport = operator
      ? `from ${twilioAddress(name, operator.from)}`
      : `only for tenants with their own Twilio settings: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set`;
    return {
      channel: createTwilioChannel({ name, accountFor, concurrency }),
      report: `${name}: on (${operatorReport}, ${via}, ${callbacks})`,
      close: () => {
        operatorHttp?.close();
        tenants.close();
      },
    };
  };
}

/** The callback URL of a tenant's own account: the API verifies it with that tenant's token. */
export const tenantStatusCallbackUrl = (statusCallback: string, tenantId: string): string =>
  `${statusCallback}?tenant=${encodeURIComponent(tenantId)}`;

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
