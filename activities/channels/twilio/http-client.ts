import { AsyncLocalStorage } from 'node:async_hooks';
import http from 'node:http';
import type https from 'node:https';
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient';
import type Response from 'twilio/lib/http/response';

/** What a response said besides its body, for the send that made the request. */
export interface ResponseNotes {
  /** The `Retry-After` header of the last response, in milliseconds. */
  retryAfterMs?: number;
}

/**
 * The notes of the send running in the current async context. `RestException` carries the status,
 * Twilio's error code and message, but not the response headers, so the HTTP client writes them here.
 */
export const responseNotes = new AsyncLocalStorage<ResponseNotes>();

/** The longest `Retry-After` honoured; beyond it the retry policy's own backoff applies. */
export const MAX_RETRY_AFTER_MS = 60 * 60_000;

/** `Retry-After` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3), in milliseconds from `now`. */
export function parseRetryAfter(value: unknown, now: number = Date.now()): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const text = value.trim();
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text) - now;
  if (!Number.isFinite(ms) || ms < 0) return undefined;
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

export interface TwilioHttpClientOptions {
  /**
   * Sends every request to this origin (and path prefix) instead of `https://<product>.twilio.com`,
   * keeping the path and query: a loopback test double or an egress proxy.
   */
  apiBaseUrl?: string;
  timeoutMs?: number;
  maxSockets?: number;
}

/**
 * The twilio library's own `RequestClient` (axios, auth, form encoding, keep-alive agent), passed to
 * the client as its `httpClient` option — the library's documented hook for custom HTTP. It moves
 * requests to `apiBaseUrl` when one is set, and records `Retry-After` for the send that asked.
 * Automatic 429 retries stay off: retries belong to Temporal, where they are visible and bounded.
 */
export class TwilioHttpClient extends twilio.RequestClient {
  private readonly apiBase: URL | undefined;
  private readonly httpAgent: http.Agent | undefined;

  constructor({ apiBaseUrl, timeoutMs = 30_000, maxSockets = 20 }: TwilioHttpClientOptions = {}) {
    super({ timeout: timeoutMs, keepAlive: true, maxSockets, autoRetry: false });
    this.apiBase = apiBaseUrl === undefined ? undefined : parseApiBaseUrl(apiBaseUrl);
    if (this.apiBase?.protocol === 'http:') {
      // Plain HTTP (a loopback double) gets its own agent, so close() can release its sockets too.
      this.httpAgent = new http.Agent({ keepAlive: true, maxSockets, timeout: timeoutMs });
      this.axios.defaults.httpAgent = this.httpAgent;
    }
  }

  override async request<TData>(opts: RequestClient.RequestOptions<TData>): Promise<Response<TData>> {
    const uri = this.apiBase ? rebase(opts.uri, this.apiBase) : opts.uri;
    const response = await super.request({ ...opts, uri });
    const notes = responseNotes.getStore();
    if (notes) notes.retryAfterMs = parseRetryAfter(header(response.headers, 'retry-after'));
    return response;
  }

  /** Closes the idle keep-alive sockets. */
  close(): void {
    (this.axios.defaults.httpsAgent as https.Agent | undefined)?.destroy();
    this.httpAgent?.destroy();
  }
}

function parseApiBaseUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`TWILIO_API_BASE_URL is not a URL: ${value}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`TWILIO_API_BASE_URL must start with http:// or https://, got ${url.protocol}//`);
  if (url.search || url.hash) throw new Error('TWILIO_API_BASE_URL must not have a query or fragment');
  return url;
}

/** `https://api.twilio.com/2010-04-01/…?x` → `<base origin><base path>/2010-04-01/…?x` */
function rebase(uri: string, base: URL): string {
  const original = new URL(uri);
  return `${base.origin}${base.pathname.replace(/\/+$/, '')}${original.pathname}${original.search}`;
}

function header(headers: unknown, name: string): unknown {
  if (!headers || typeof headers !== 'object') return undefined;
  const value = (headers as Record<string, unknown>)[name];
  return Array.isArray(value) ? value[0] : value;
}
