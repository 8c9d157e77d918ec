import type { ApiResponse } from './stack';

/** What every typed-client call answers (openapi-fetch): the 2xx body as `data`, else `error`. */
interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/**
 * The body of a 2xx answer, with the status checked; anything else fails the test naming the
 * status and the error body, instead of a later "cannot read property of undefined".
 */
export function ok<T>(answer: Answer<T>, status?: number): T {
  const { data, error, response } = answer;
  if (!response.ok || (status !== undefined && response.status !== status))
    throw new Error(
      `${response.url}: expected ${status ?? '2xx'}, got ${response.status} ${JSON.stringify(error ?? data)}`,
    );
  return data as T;
}

/** A typed answer as the `ApiResponse` shape (status, body, headers), for `expectError`. */
export function asResponse(answer: Answer<unknown>): ApiResponse {
  return {
    status: answer.response.status,
    body: answer.response.ok ? answer.data : answer.error,
    headers: answer.response.headers,
  };
}
