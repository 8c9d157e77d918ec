import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, paths } from './schema';

export type { components, paths } from './schema';

/** A named schema of the API, e.g. `HeraldSchema<'NotificationRequest'>`. */
export type HeraldSchema<Name extends keyof components['schemas']> = components['schemas'][Name];

/** The error body every non-2xx answer carries: `{error: {code, message, details: [{path, message}]}}`. */
export type HeraldError = HeraldSchema<'Error'>;

export type HeraldClient = Client<paths>;

export interface HeraldClientOptions {
  /** Where the API is, e.g. `http://127.0.0.1:3000` (no trailing `/v1`). */
  baseUrl: string;
  /** An API key (`hk_…`) or a person's end-user token (`heu_…`); sent as `Authorization: Bearer`. */
  token: string;
  /** Headers for every request besides Authorization. */
  headers?: Record<string, string>;
  /** Another fetch (a test's, a proxy's); globalThis.fetch by default. */
  fetch?: ClientOptions['fetch'];
}

/**
 * A typed client for the Herald API: paths, parameters, bodies and answers are checked against
 * the OpenAPI document the client was generated from.
 *
 * @example
 * const herald = createHeraldClient({ baseUrl: 'http://127.0.0.1:3000', token: apiKey });
 * const { data, error } = await herald.POST('/v1/notifications', {
 *   body: { event: 'ticket.assigned', to: { groups: ['Technical Admin'] }, data: { ticketId: '42' } },
 * });
 */
export function createHeraldClient(options: HeraldClientOptions): HeraldClient {
  return createClient<paths>({
    baseUrl: options.baseUrl,
    headers: { ...options.headers, Authorization: `Bearer ${options.token}` },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}
