/** A loopback server standing in for the Twilio REST API, checking Basic auth and the form fields. */
import { randomBytes } from 'node:crypto';
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

/**
 * A loopback server standing in for the Twilio REST API: `POST /2010-04-01/Accounts/{sid}/Messages.json`
 * with Basic auth and a form body, answered the way Twilio answers. Replies can be scripted per `To`.
 */
export class TwilioDouble {
  readonly requests: MessageRequest[] = [];
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
    const expectedAuth = `Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64')}`;
    if (request.authorization !== expectedAuth || request.accountSid !== ACCOUNT_SID) {
      return reply(res, { status: 401, body: twilioError(20003, 'Authenticate', 401) });
    }
    const scripted = this.scripts.get(request.fields.To ?? '')?.shift();
    if (scripted) return reply(res, scripted);
    const sid = `SM${randomBytes(16).toString('hex')}`;
    reply(res, {
      status: 201,
      body: {
        sid,
        account_sid: ACCOUNT_SID,
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
        uri: `/2010-04-01/Accounts/${ACCOUNT_SID}/Messages/${sid}.json`,
      },
    });
  }
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
