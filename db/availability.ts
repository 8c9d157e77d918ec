/**
 * Whether an error means the database could not be reached or dropped the connection (so the same
 * statement may succeed later), as opposed to a constraint or bad data, which never will.
 */

/** Node socket errors: the database could not be reached or dropped the connection. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * SQLSTATEs after which the same statement may succeed later: class 08 (connection exception),
 * server shutting down or starting, too many connections, serialization failure and deadlock.
 */
const TRANSIENT_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '40001', '40P01']);

/** pg's own messages for a connection lost or never made (they carry no code). */
const LOST_CONNECTION =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended/i;

export function isDatabaseUnavailable(error: unknown): boolean {
  const e = (error ?? {}) as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (code && (NETWORK_CODES.has(code) || code.startsWith('08') || TRANSIENT_SQLSTATES.has(code)))
    return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return LOST_CONNECTION.test(message);
}
