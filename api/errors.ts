import type { ContentfulStatusCode } from 'hono/utils/http-status';

export interface ErrorDetail {
  path: string;
  message: string;
}

/** An error with an HTTP status and a stable machine-readable code; the JSON body names the fields. */
export class HttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
    /** Headers the answer carries (e.g. `Retry-After` on a 429); set by the app's error handler. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }

  toJSON() {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

export const notFound = (what: string) => new HttpError(404, 'not_found', `${what} not found`);

export const validationFailed = (details: ErrorDetail[], status: ContentfulStatusCode = 422) =>
  new HttpError(
    status,
    'validation_failed',
    details.map((d) => `${d.path}: ${d.message}`).join('; '),
    details,
  );

/** `['to', 'groups', 0]` → `to.groups[0]` */
export function formatPath(path: PropertyKey[]): string {
  return path.reduce<string>((acc, part) => {
    if (typeof part === 'number') return `${acc}[${part}]`;
    return acc ? `${acc}.${String(part)}` : String(part);
  }, '');
}
