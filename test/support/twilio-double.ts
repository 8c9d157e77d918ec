/** A loopback server standing in for the Twilio REST API, checking Basic auth and the form fields. */
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const ACCOUNT_SID = `AC${randomBytes(16).toString('hex')}`;
export const AUTH_TOKEN = randomBytes(16).toString('hex');
export const SMS_FROM = '+15005550006';
export const WHATSAPP_FROM = '+14155238886';
/** What Twilio would call: the API behind a proxy, so not the loopback address the test posts to. */
export const PUBLIC_BASE_URL = 'https://herald.example.com';
export const CALLBACK_URL = `${PUBLIC_BASE_URL}/v1/providers/twilio/status`;

/** One POST to the Messages resource as the double received it. */
export interface MessageRequest {
  at: number;
  accountSid: string;
  authorization: string | undefined;
  contentType: string | undefined;
  fields: Record<string, string>;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
}

/** An account the double knows: its token, and what a fetch of the account shows. */
export interface DoubleAccount {
  authToken: string;
  friendlyName: string;
  status: 'active' | 'suspended' | 'closed';
}

/**
 * A loopback server standing in for the Twilio REST API: `POST /2010-04-01/Accounts/{sid}/Messages.json`
 * with Basic auth and a form body, answered the way Twilio answers, and `GET /2010-04-01/Accounts/{sid}.json`.
 * It knows the operator's account and any added with addAccount. Replies can be scripted per `To`.
 */
export class TwilioDouble {
  readonly requests: MessageRequest[] = [];
  /** Fetches of an account, as received (`accountSid`, `authorization`). */
  readonly accountFetches: Omit<MessageRequest, 'fields' | 'contentType'>[] = [];
  readonly accounts = new Map<string, DoubleAccount>([
    [ACCOUNT_SID, { authToken: AUTH_TOKEN, friendlyName: 'Herald operator', status: 'active' }],
  ]);
  private readonly scripts = new Map<string, Reply[]>();
  private server!: Server;
  url = '';

  /** Milliseconds to hold every answer (a slow provider: the message exists before the client hears so). */
  delayMs = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Another account (a tenant's own) that the double accepts. */
  addAccount(accountSid: string, account: DoubleAccount): void {
    this.accounts.set(accountSid, account);
  }

  /** The next answers for messages to `to`, in order; afterwards messages are accepted. */
  script(to: string, ...replies: Reply[]): void {
    this.scripts.set(to, replies);
  }

  to(to: string): MessageRequest[] {
    return this.requests.filter((r) => r.fields.To === to);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const fetched = /^\/2010-04-01\/Accounts\/([^/]+)\.json$/.exec(req.url ?? '');
    if (req.method === 'GET' && fetched) return this.fetchAccount(req, fetched[1]!, res);
    const match = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !match) {
      return reply(res, {
        status: 404,
        body: twilioError(20404, 'The requested resource was not found', 404),
      });
    }
    const request: MessageRequest = {
      at: Date.now(),
      accountSid: match[1]!,
      authorization: req.headers.authorization,
      contentType: req.headers['content-type'],
      fields: Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))),
    };
    this.requests.push(request);
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (!this.authenticates(request.accountSid, request.authorization)) {
      return reply(res, { status: 401, body: twilioError(20003, 'Authenticate', 401) });
    }
    const refused = messageFieldsProblem(request.fields);
    if (refused) return reply(res, refused);
    const scripted = this.scripts.get(request.fields.To ?? '')?.shift();
    if (scripted) return reply(res, scripted);
    const sid = `SM${randomBytes(16).toString('hex')}`;
    reply(res, {
      status: 201,
      body: {
        sid,
        account_sid: request.accountSid,
        to: request.fields.To,
        from: request.fields.From,
        body: request.fields.Body,
        status: 'queued',
        direction: 'outbound-api',
        num_segments: '1',
        num_media: '0',
        api_version: '2010-04-01',
        price: null,
        error_code: null,
        error_message: null,
        date_created: new Date().toUTCString(),
        date_updated: new Date().toUTCString(),
        date_sent: null,
        uri: `/2010-04-01/Accounts/${request.accountSid}/Messages/${sid}.json`,
      },
    });
  }

  /** Basic auth with the SID in the path and that account's token. */
  private authenticates(accountSid: string, authorization: string | undefined): boolean {
    const account = this.accounts.get(accountSid);
    if (!account) return false;
    return authorization === `Basic ${Buffer.from(`${accountSid}:${account.authToken}`).toString('base64')}`;
  }

  private fetchAccount(req: IncomingMessage, accountSid: string, res: ServerResponse): void {
    this.accountFetches.push({ at: Date.now(), accountSid, authorization: req.headers.authorization });
    if (!this.authenticates(accountSid, req.headers.authorization))
      return reply(res, { status: 401, body: twilioError(20003, 'Authenticate', 401) });
    const account = this.accounts.get(accountSid)!;
    reply(res, {
      status: 200,
      body: {
        sid: accountSid,
        owner_account_sid: accountSid,
        friendly_name: account.friendlyName,
        status: account.status,
        type: 'Full',
        auth_token: account.authToken.replace(/./g, '*'),
        date_created: new Date().toUTCString(),
        date_updated: new Date().toUTCString(),
        uri: `/2010-04-01/Accounts/${accountSid}.json`,
      },
    });
  }
}

/**
 * Twilio's own checks of a message's form fields: a sender (From or MessagingServiceSid), and a body
 * or an approved template — ContentSid (HX…) with ContentVariables a JSON object of non-empty strings,
 * and then no Body.
 */
function messageFieldsProblem(fields: Record<string, string>): Reply | null {
  const refuse = (code: number, message: string): Reply => ({
    status: 400,
    body: twilioError(code, message, 400),
  });
  if (!fields.To) return refuse(21604, "A 'To' phone number is required.");
  if (!fields.From && !fields.MessagingServiceSid) return refuse(21603, "A 'From' phone number is required.");
  if (fields.ContentSid === undefined) {
    if (fields.ContentVariables !== undefined) return refuse(21656, 'ContentVariables without a ContentSid');
    if (!fields.Body) return refuse(21602, 'Message body is required.');
    return null;
  }
  if (!/^HX[0-9a-fA-F]{32}$/.test(fields.ContentSid)) return refuse(21655, 'The ContentSid is Invalid.');
  if (fields.Body !== undefined) return refuse(21619, 'Body and ContentSid were both given.');
  if (fields.ContentVariables !== undefined) {
    let variables: unknown;
    try {
      variables = JSON.parse(fields.ContentVariables);
    } catch {
      return refuse(21656, 'The ContentVariables Parameter is invalid: not JSON.');
    }
    const valid =
      typeof variables === 'object' &&
      variables !== null &&
      !Array.isArray(variables) &&
      Object.entries(variables).every(([k, v]) => /^\w+$/.test(k) && typeof v === 'string' && v !== '');
    if (!valid) return refuse(21656, 'The ContentVariables Parameter is invalid.');
  }
  return null;
}

export function reply(res: ServerResponse, { status, headers = {}, body }: Reply): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export const twilioError = (code: number, message: string, status: number) => ({
  code,
  message,
  more_info: `https://www.twilio.com/docs/errors/${code}`,
  status,
});

/** Twilio's request signature, computed here without the twilio library: HMAC-SHA1 over url + sorted key/values. */
export function twilioSignature(url: string, params: Record<string, string>, token = AUTH_TOKEN): string {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, key) => acc + key + params[key], url);
  return createHmac('sha1', token).update(Buffer.from(data, 'utf8')).digest('base64');
}
