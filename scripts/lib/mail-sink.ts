/**
 * Mail sink: a real SMTP server on loopback that keeps every message in memory, plus an optional
 * HTTP view of them. `herald dev` uses it so a person can read the mail Herald sends; tests use it
 * as an SMTP server whose replies can be scripted (temporary/permanent rejections, slow DATA).
 */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import { simpleParser } from 'mailparser';
import type { AddressObject, EmailAddress, ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';

export interface ReceivedMail {
  id: number; // 1, 2, 3… in arrival order
  messageId: string; // Message-ID header value, e.g. "<abc@herald>" ('' if none)
  envelopeFrom: string;
  envelopeTo: string[]; // RCPT TO addresses, lower-cased
  from: string; // From header text
  to: string[]; // addresses in the To header, lower-cased
  subject: string;
  html: string; // '' if no HTML part
  text: string; // '' if no text part
  headers: Record<string, string>; // lower-cased header names → string values (first occurrence)
  receivedAt: string; // ISO time
  raw: string;
}

/** A scripted reply to one RCPT TO, e.g. {code: 421, message: 'try later'} or {code: 550, message: 'no such user'}. */
export interface RcptDecision {
  code: number;
  message: string;
}

export interface MailSinkOptions {
  host?: string; // default '127.0.0.1'
  smtpPort?: number; // default 0 (random free port)
  httpPort?: number | null; // default null = no HTTP view; 0 = random port
  auth?: { user: string; pass: string }; // when set, AUTH PLAIN/LOGIN required and checked; otherwise auth disabled
  /** Called for each RCPT TO; return a decision to reject that recipient with that SMTP code, or undefined to accept. attempt counts RCPT TOs seen for that address so far, starting at 1. */
  onRcpt?: (address: string, attempt: number) => RcptDecision | undefined;
  /** Milliseconds to wait before answering 250 to DATA (to simulate a slow server). */
  dataDelayMs?: number;
  /** Called when DATA starts for a message (before the delay), with the envelope recipients. */
  onDataStart?: (envelopeTo: string[]) => void;
  maxMessages?: number; // keep at most this many in memory (default 1000, oldest dropped)
  /** Count messages without parsing or keeping them (benchmarks: parsing would be the bottleneck). */
  countOnly?: boolean;
  /**
   * Keep only each message's envelope recipients and Message-ID, read from the raw header block
   * without parsing (large tests: who got what, exactly once, without holding whole messages).
   */
  envelopesOnly?: boolean;
}

/** What `envelopesOnly` keeps of one accepted message. */
export interface ReceivedEnvelope {
  envelopeTo: string[]; // RCPT TO addresses, lower-cased
  messageId: string; // Message-ID header value, e.g. "<abc@herald>" ('' if none)
}

export interface MailSink {
  smtpPort: number;
  httpPort: number | null;
  url: string; // 'smtp://127.0.0.1:<port>' (with user:pass@ when auth is set)
  webUrl: string | null; // 'http://127.0.0.1:<httpPort>' or null
  messages(): ReceivedMail[]; // copies, arrival order
  /** How many messages were accepted since start (also with countOnly). */
  receivedCount(): number;
  /** With envelopesOnly: each accepted message's envelope recipients and Message-ID, arrival order (copies). */
  envelopes(): ReceivedEnvelope[];
  clear(): void;
  waitFor(predicate: (all: ReceivedMail[]) => boolean, timeoutMs?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_MAX_MESSAGES = 1000;
const DEFAULT_WAIT_TIMEOUT_MS = 15_000;
const MAX_MESSAGE_BYTES = 25 * 1024 * 1024;
const VIEW_REFRESH_SECONDS = 3;

type MailWithoutId = Omit<ReceivedMail, 'id'>;
type MailSummary = Omit<ReceivedMail, 'raw'>;

/** An Error that smtp-server turns into an SMTP reply with this code. */
class SmtpReplyError extends Error {
  constructor(
    readonly responseCode: number,
    message: string,
  ) {
    super(message);
  }
}

const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));

// ---------------------------------------------------------------------------------------------
// Store: the messages, the RCPT attempt counters, and a change signal for waitFor.
// ---------------------------------------------------------------------------------------------

class MailStore {
  private mails: ReceivedMail[] = [];
  /** With envelopesOnly: every accepted message's envelope, never trimmed to maxMessages. */
  private envelopeList: ReceivedEnvelope[] = [];
  // Ids keep counting across clear() so a /messages/<id> link never points at a different mail.
  private nextId = 1;
  private readonly rcptAttempts = new Map<string, number>();
  /** Every message accepted since start, kept or not. */
  received = 0;
  readonly changes = new EventEmitter();

  constructor(private readonly maxMessages: number) {
    this.changes.setMaxListeners(0); // every pending waitFor listens; there is no leak to warn about
  }

  add(mail: MailWithoutId): ReceivedMail {
    const stored: ReceivedMail = { id: this.nextId++, ...mail };
    this.mails.push(stored);
    if (this.mails.length > this.maxMessages) this.mails.splice(0, this.mails.length - this.maxMessages);
    this.changes.emit('change');
    return stored;
  }

  addEnvelope(envelope: ReceivedEnvelope): void {
    this.envelopeList.push(envelope);
  }

  envelopes(): ReceivedEnvelope[] {
    return this.envelopeList.map((e) => ({ envelopeTo: [...e.envelopeTo], messageId: e.messageId }));
  }

  /** Counts this RCPT TO for the address and returns the count, starting at 1. */
  countRcpt(address: string): number {
    const attempt = (this.rcptAttempts.get(address) ?? 0) + 1;
    this.rcptAttempts.set(address, attempt);
    return attempt;
  }

  all(): ReceivedMail[] {
    return this.mails.map(copyMail);
  }

  find(id: number): ReceivedMail | undefined {
    const mail = this.mails.find((candidate) => candidate.id === id);
    return mail && copyMail(mail);
  }

  clear(): void {
    this.mails = [];
    this.envelopeList = [];
    this.rcptAttempts.clear();
    this.changes.emit('change');
  }
}

const copyMail = (mail: ReceivedMail): ReceivedMail => ({
  ...mail,
  envelopeTo: [...mail.envelopeTo],
  to: [...mail.to],
  headers: { ...mail.headers },
});

const withoutRaw = ({ raw: _raw, ...summary }: ReceivedMail): MailSummary => summary;

// ---------------------------------------------------------------------------------------------
// Parsing: raw SMTP DATA → ReceivedMail fields.
// ---------------------------------------------------------------------------------------------

interface Envelope {
  envelopeFrom: string;
  envelopeTo: string[];
}

const envelopeOf = (session: SMTPServerSession): Envelope => ({
  envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
  envelopeTo: session.envelope.rcptTo.map((rcpt) => rcpt.address.toLowerCase()),
});

async function parseMail(raw: Buffer, envelope: Envelope): Promise<MailWithoutId> {
  const receivedAt = new Date().toISOString();
  const rawText = raw.toString('utf8');
  try {
    // The view shows the real parts: no text invented from HTML, no HTML invented from text.
    const parsed = await simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true });
    return {
      ...envelope,
      messageId: parsed.messageId ?? '',
      from: parsed.from?.text ?? '',
      to: addressesOf(parsed.to),
      subject: parsed.subject ?? '',
      html: typeof parsed.html === 'string' ? parsed.html : '',
      text: parsed.text ?? '',
      headers: headersOf(parsed),
      receivedAt,
      raw: rawText,
    };
  } catch (error) {
    // Keep the message anyway: a sink that drops what it cannot read would hide sender bugs.
    return {
      ...envelope,
      messageId: '',
      from: '',
      to: [],
      subject: '(unparseable)',
      html: '',
      text: `Could not parse this message: ${errorMessage(error)}`,
      headers: {},
      receivedAt,
      raw: rawText,
    };
  }
}

function addressesOf(header: AddressObject | AddressObject[] | undefined): string[] {
  const objects = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const flatten = (entry: EmailAddress): string[] =>
    entry.group ? entry.group.flatMap(flatten) : entry.address ? [entry.address.toLowerCase()] : [];
  return objects.flatMap((object) => object.value.flatMap(flatten));
}

/** First occurrence of each header as a string: mailparser's decoded text where it has one, else the raw value. */
function headersOf(parsed: ParsedMail): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const { key, line } of parsed.headerLines) {
    // A line without a colon yields an empty key; it is not a header, the raw source still has it.
    if (key === '' || Object.prototype.hasOwnProperty.call(headers, key)) continue;
    headers[key] = decodedHeaderText(parsed.headers.get(key)) ?? rawHeaderValue(line);
  }
  return headers;
}

function decodedHeaderText(value: unknown): string | undefined {
  const first: unknown = Array.isArray(value) ? value[0] : value;
  if (typeof first === 'string') return first;
  if (isAddressObject(first)) return first.text;
  return undefined; // dates and structured values read better as written
}

const isAddressObject = (value: unknown): value is AddressObject =>
  typeof value === 'object' && value !== null && 'text' in value && 'value' in value;

/**
 * The Message-ID header read straight from the raw message: the header block up to the first blank
 * line, unfolded, first `Message-ID:` line (any case). '' if there is none.
 */
function rawMessageId(raw: Buffer): string {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  const ends = [crlf, lf].filter((i) => i >= 0);
  const headerBlock = raw.subarray(0, ends.length ? Math.min(...ends) : raw.length).toString('utf8');
  for (const line of headerBlock.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const match = /^message-id[ \t]*:(.*)$/i.exec(line);
    if (match) return match[1]!.trim();
  }
  return '';
}

const rawHeaderValue = (line: string): string =>
  line
    .slice(line.indexOf(':') + 1)
    .replace(/\r?\n[ \t]+/g, ' ')
    .trim();

// ---------------------------------------------------------------------------------------------
// SMTP server
// ---------------------------------------------------------------------------------------------

interface SmtpHandlers {
  options: MailSinkOptions;
  store: MailStore;
  /** Timers of DATA replies being held back by dataDelayMs, cleared on close. */
  pendingReplies: Set<NodeJS.Timeout>;
}

function createSmtpServer({ options, store, pendingReplies }: SmtpHandlers): SMTPServer {
  const { auth } = options;
  return new SMTPServer({
    name: 'herald-mail-sink',
    banner: 'Herald mail sink',
    logger: false,
    size: MAX_MESSAGE_BYTES,
    // Loopback only, so no TLS; AUTH is only offered when credentials are configured.
    disabledCommands: auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    authOptional: !auth,
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    disableReverseLookup: true, // a DNS lookup per connection only slows tests down
    onAuth(attempt, _session, callback) {
      if (auth && attempt.username === auth.user && attempt.password === auth.pass) {
        callback(null, { user: attempt.username });
        return;
      }
      callback(new SmtpReplyError(535, 'Authentication credentials invalid'));
    },
    onRcptTo(address, _session, callback) {
      callback(rcptRejection(address.address.toLowerCase(), options, store));
    },
    onData(stream, session, callback) {
      receiveData(stream, session, { options, store, pendingReplies }, callback);
    },
  });
}

function rcptRejection(address: string, options: MailSinkOptions, store: MailStore): SmtpReplyError | null {
  const attempt = store.countRcpt(address);
  try {
    const decision = options.onRcpt?.(address, attempt);
    return decision ? new SmtpReplyError(decision.code, decision.message) : null;
  } catch (error) {
    return new SmtpReplyError(451, `mail sink onRcpt hook failed: ${errorMessage(error)}`);
  }
}

function receiveData(
  stream: SMTPServerDataStream,
  session: SMTPServerSession,
  { options, store, pendingReplies }: SmtpHandlers,
  callback: (error?: Error | null) => void,
): void {
  const envelope = envelopeOf(session);
  let hookError: unknown;
  try {
    options.onDataStart?.(envelope.envelopeTo);
  } catch (error) {
    hookError = error; // still read the stream: smtp-server needs DATA consumed before replying
  }
  const chunks: Buffer[] = [];
  let answered = false;
  const answer = (error?: Error): void => {
    if (answered) return;
    answered = true;
    callback(error ?? null);
  };
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('error', (error: Error) =>
    answer(new SmtpReplyError(451, `could not read message: ${error.message}`)),
  );
  stream.on('end', () => {
    if (hookError !== undefined) {
      answer(new SmtpReplyError(451, `mail sink onDataStart hook failed: ${errorMessage(hookError)}`));
      return;
    }
    if (stream.sizeExceeded) {
      answer(new SmtpReplyError(552, `message exceeds fixed maximum message size ${MAX_MESSAGE_BYTES}`));
      return;
    }
    store.received++;
    if (options.envelopesOnly) {
      store.addEnvelope({ envelopeTo: envelope.envelopeTo, messageId: rawMessageId(Buffer.concat(chunks)) });
    }
    if (options.countOnly || options.envelopesOnly) {
      replyAfterDelay(options.dataDelayMs ?? 0, pendingReplies, () => answer());
      return;
    }
    void parseMail(Buffer.concat(chunks), envelope).then((mail) => {
      // Stored before the (delayed) 250, like an MTA that queued the mail but answers late:
      // a client that times out here and retries produces a real duplicate, as it would in production.
      store.add(mail);
      replyAfterDelay(options.dataDelayMs ?? 0, pendingReplies, () => answer());
    });
  });
}

function replyAfterDelay(delayMs: number, pendingReplies: Set<NodeJS.Timeout>, reply: () => void): void {
  if (delayMs <= 0) {
    reply();
    return;
  }
  const timer = setTimeout(() => {
    pendingReplies.delete(timer);
    reply();
  }, delayMs);
  pendingReplies.add(timer);
}

// ---------------------------------------------------------------------------------------------
// HTTP view
// ---------------------------------------------------------------------------------------------

const escapeHtml = (value: string): string =>
  value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');

const PAGE_STYLE = `
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }
  th { background: #f4f4f4; }
  .empty { color: #777; font-size: 1.2rem; margin-top: 2rem; }
  pre { white-space: pre-wrap; background: #f8f8f8; padding: .75rem; }
  iframe { width: 100%; height: 70vh; border: 1px solid #ccc; }
  .headers td:first-child { white-space: nowrap; color: #555; }
`;

function htmlPage(title: string, body: string, refresh = false): string {
  const refreshTag = refresh ? `<meta http-equiv="refresh" content="${VIEW_REFRESH_SECONDS}">` : '';
  return `<!doctype html>
<html><head><meta charset="utf-8">${refreshTag}<title>${escapeHtml(title)}</title><style>${PAGE_STYLE}</style></head>
<body>${body}</body></html>`;
}

function renderIndex(mails: ReceivedMail[]): string {
  const heading = '<h1>Herald mail sink</h1>';
  if (mails.length === 0)
    return htmlPage('Herald mail sink', `${heading}<p class="empty">No mail yet</p>`, true);
  const rows = [...mails]
    .reverse()
    .map(
      (mail) =>
        `<tr><td>${escapeHtml(mail.receivedAt)}</td><td>${escapeHtml(mail.from)}</td>` +
        `<td>${escapeHtml(mail.to.join(', ') || mail.envelopeTo.join(', '))}</td>` +
        `<td><a href="/messages/${mail.id}">${escapeHtml(mail.subject || '(no subject)')}</a></td></tr>`,
    )
    .join('\n');
  const table = `<table><thead><tr><th>Time</th><th>From</th><th>To</th><th>Subject</th></tr></thead><tbody>${rows}</tbody></table>`;
  return htmlPage(
    'Herald mail sink',
    `${heading}<p>${mails.length} message(s), newest first.</p>${table}`,
    true,
  );
}

function renderMessage(mail: ReceivedMail): string {
  const headerRows = Object.entries(mail.headers)
    .map(([name, value]) => `<tr><td>${escapeHtml(name)}</td><td>${escapeHtml(value)}</td></tr>`)
    .join('\n');
  const envelope = `<p>Envelope: ${escapeHtml(mail.envelopeFrom || '<>')} → ${escapeHtml(mail.envelopeTo.join(', '))}</p>`;
  // An empty sandbox: the mail's HTML can render but not run scripts or reach this page's origin.
  const htmlPart = mail.html
    ? `<iframe sandbox srcdoc="${escapeHtml(mail.html)}"></iframe>`
    : '<p class="empty">(no HTML part)</p>';
  const textPart = mail.text ? `<pre>${escapeHtml(mail.text)}</pre>` : '<p class="empty">(no text part)</p>';
  const body =
    `<p><a href="/">← all messages</a> · <a href="/api/messages/${mail.id}/raw">raw source</a></p>` +
    `<h1>${escapeHtml(mail.subject || '(no subject)')}</h1>${envelope}` +
    `<h2>HTML</h2>${htmlPart}<h2>Text</h2>${textPart}` +
    `<h2>Headers</h2><table class="headers">${headerRows}</table>`;
  return htmlPage(mail.subject || `Message ${mail.id}`, body);
}

function send(res: http.ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, {
    'content-type': contentType,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}

const sendJson = (res: http.ServerResponse, status: number, value: unknown): void =>
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));

const sendHtml = (res: http.ServerResponse, status: number, page: string): void =>
  send(res, status, 'text/html; charset=utf-8', page);

const sendNotFound = (res: http.ServerResponse, message: string): void =>
  sendJson(res, 404, { error: { code: 'not_found', message } });

/** `GET /messages/7` → 7; anything that is not a positive integer → undefined. */
function idFrom(segment: string | undefined): number | undefined {
  return segment !== undefined && /^[1-9]\d{0,14}$/.test(segment) ? Number(segment) : undefined;
}

function routeRequest(req: http.IncomingMessage, res: http.ServerResponse, store: MailStore): void {
  const path = new URL(req.url ?? '/', 'http://mail-sink').pathname;
  const method = req.method ?? 'GET';
  const segments = path.split('/').filter(Boolean);

  if (method === 'GET' && path === '/') return sendHtml(res, 200, renderIndex(store.all()));
  if (segments[0] === 'messages' && segments.length === 2 && method === 'GET') {
    return serveMessagePage(res, store, idFrom(segments[1]));
  }
  if (segments[0] === 'api' && segments[1] === 'messages')
    return routeApi(req, res, store, segments.slice(2));
  sendNotFound(res, `No route for ${method} ${path}`);
}

function serveMessagePage(res: http.ServerResponse, store: MailStore, id: number | undefined): void {
  const mail = id === undefined ? undefined : store.find(id);
  if (!mail) {
    sendHtml(
      res,
      404,
      htmlPage('Not found', '<p><a href="/">← all messages</a></p><p class="empty">Message not found</p>'),
    );
    return;
  }
  sendHtml(res, 200, renderMessage(mail));
}

function routeApi(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  store: MailStore,
  rest: string[],
): void {
  const method = req.method ?? 'GET';
  if (rest.length === 0 && method === 'GET') return sendJson(res, 200, store.all().map(withoutRaw));
  if (rest.length === 0 && method === 'DELETE') {
    store.clear();
    res.writeHead(204).end();
    return;
  }
  const id = idFrom(rest[0]);
  const mail = id === undefined ? undefined : store.find(id);
  const wantsRaw = rest.length === 2 && rest[1] === 'raw';
  if (method !== 'GET' || rest.length > 2 || (rest.length === 2 && !wantsRaw)) {
    return sendNotFound(res, `No route for ${method} ${req.url ?? ''}`);
  }
  if (!mail) return sendNotFound(res, `No message with id ${rest[0] ?? ''}`);
  if (wantsRaw) return send(res, 200, 'text/plain; charset=utf-8', mail.raw);
  sendJson(res, 200, withoutRaw(mail));
}

function createMailView(store: MailStore): http.Server {
  return http.createServer((req, res) => {
    try {
      routeRequest(req, res, store);
    } catch (error) {
      if (!res.headersSent) sendJson(res, 500, { error: { code: 'internal', message: errorMessage(error) } });
      else res.destroy();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------------------------

function listen(server: NetServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Remembers open sockets so close() can cut them instead of waiting for idle clients to leave. */
function trackSockets(server: NetServer): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return sockets;
}

const hostForUrl = (host: string): string => (host.includes(':') ? `[${host}]` : host);

function smtpUrl(host: string, port: number, auth: MailSinkOptions['auth']): string {
  const credentials = auth ? `${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.pass)}@` : '';
  return `smtp://${credentials}${hostForUrl(host)}:${port}`;
}

function describeMails(mails: ReceivedMail[]): string {
  if (mails.length === 0) return 'no messages received';
  const shown = mails
    .slice(-10)
    .map((mail) => `#${mail.id} to=${mail.envelopeTo.join(',')} subject=${JSON.stringify(mail.subject)}`);
  return `${mails.length} message(s) received: ${shown.join('; ')}`;
}

function waitForMails(
  store: MailStore,
  predicate: (all: ReceivedMail[]) => boolean,
  timeoutMs: number,
): Promise<ReceivedMail[]> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      store.changes.off('change', check);
      store.changes.off('close', onClose);
    };
    function check(): void {
      const mails = store.all();
      try {
        if (!predicate(mails)) return;
      } catch (error) {
        cleanup();
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      cleanup();
      resolve(mails);
    }
    const onClose = (): void => {
      cleanup();
      reject(new Error('mail sink closed while waiting for mail'));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(
        new Error(`mail sink: condition not met within ${timeoutMs} ms (${describeMails(store.all())})`),
      );
    }, timeoutMs);
    store.changes.on('change', check);
    store.changes.on('close', onClose);
    check();
  });
}

function closeServer(
  server: { close(callback: () => void): unknown },
  sockets: Iterable<Socket>,
): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    for (const socket of sockets) socket.destroy();
  });
}

export async function startMailSink(options: MailSinkOptions = {}): Promise<MailSink> {
  const host = options.host ?? DEFAULT_HOST;
  const httpPortOption = options.httpPort ?? null;
  const store = new MailStore(Math.max(1, options.maxMessages ?? DEFAULT_MAX_MESSAGES));
  const pendingReplies = new Set<NodeJS.Timeout>();

  const smtp = createSmtpServer({ options, store, pendingReplies });
  smtp.on('error', () => undefined); // client resets and protocol errors must not crash the process
  const smtpSockets = trackSockets(smtp.server);
  const smtpPort = await listen(smtp.server, options.smtpPort ?? 0, host);

  let view: http.Server | null = null;
  let httpPort: number | null = null;
  if (httpPortOption !== null) {
    view = createMailView(store);
    try {
      httpPort = await listen(view, httpPortOption, host);
    } catch (error) {
      await closeServer(smtp, smtpSockets);
      throw error;
    }
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      store.changes.emit('close');
      for (const timer of pendingReplies) clearTimeout(timer);
      pendingReplies.clear();
      const viewClosed = view ? closeServer(view, []) : Promise.resolve();
      view?.closeAllConnections(); // keep-alive browser connections would otherwise hold close() open
      await Promise.all([closeServer(smtp, smtpSockets), viewClosed]);
    })();
    return closing;
  };

  return {
    smtpPort,
    httpPort,
    url: smtpUrl(host, smtpPort, options.auth),
    webUrl: httpPort === null ? null : `http://${hostForUrl(host)}:${httpPort}`,
    messages: () => store.all(),
    receivedCount: () => store.received,
    envelopes: () => store.envelopes(),
    clear: () => store.clear(),
    waitFor: (predicate, timeoutMs = DEFAULT_WAIT_TIMEOUT_MS) => waitForMails(store, predicate, timeoutMs),
    close,
  };
}
