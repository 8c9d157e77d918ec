import type { ApiResponse } from './stack';

/** Every API error is exactly {error: {code, message, details: [{path, message}]}}, as JSON. */
export function expectError(response: ApiResponse, status: number, code: string): void {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(Object.keys(response.body)).toEqual(['error']);
  expect(response.body.error).toEqual({
    code,
    message: expect.any(String),
    details: expect.any(Array),
  });
  for (const detail of response.body.error.details) {
    expect(detail).toEqual({ path: expect.any(String), message: expect.any(String) });
  }
}
