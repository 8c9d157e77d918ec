import twilio from 'twilio';
import { TwilioHttpClient } from './http-client';

/** Twilio's word on a pair of credentials. */
export type TwilioAccountCheck =
  | { ok: true; accountSid: string; friendlyName: string; status: string; type: string | null }
  | {
      ok: false;
      /** Twilio's error code (20003: wrong SID or token), null when Twilio did not answer. */
      code: number | null;
      httpStatus: number | null;
      message: string;
    };

/**
 * Fetches the account (`GET /2010-04-01/Accounts/{sid}.json`) with the credentials, as the channel
 * would send with them (same base-URL override), so wrong credentials show before the first message.
 * An account Twilio has suspended or closed fails the check too: it cannot send.
 */
export async function checkTwilioAccount(
  credentials: { accountSid: string; authToken: string },
  options: { apiBaseUrl?: string; timeoutMs?: number } = {},
): Promise<TwilioAccountCheck> {
  const http = new TwilioHttpClient({
    apiBaseUrl: options.apiBaseUrl,
    timeoutMs: options.timeoutMs ?? 10_000,
    maxSockets: 1,
  });
  try {
    const client = twilio(credentials.accountSid, credentials.authToken, {
      httpClient: http,
      autoRetry: false,
    });
    const account = await client.api.v2010.accounts(credentials.accountSid).fetch();
    if (account.status !== 'active') {
      return {
        ok: false,
        code: null,
        httpStatus: 200,
        message: `the account is ${account.status}: it cannot send`,
      };
    }
    return {
      ok: true,
      accountSid: account.sid,
      friendlyName: account.friendlyName,
      status: account.status,
      type: account.type ?? null,
    };
  } catch (error) {
    const e = (error ?? {}) as { status?: unknown; code?: unknown; message?: unknown };
    const message = typeof e.message === 'string' ? e.message : String(error);
    if (typeof e.status === 'number') {
      return { ok: false, code: typeof e.code === 'number' ? e.code : null, httpStatus: e.status, message };
    }
    // No answer (refused, reset, timeout, DNS): say what the network said.
    const network = typeof e.code === 'string' ? `${e.code}: ` : '';
    return {
      ok: false,
      code: null,
      httpStatus: null,
      message: `Twilio did not answer: ${network}${message}`,
    };
  } finally {
    http.close();
  }
}
