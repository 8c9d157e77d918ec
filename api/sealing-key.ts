import type { Context } from 'hono';
import type { AppEnv } from './deps';
import { HttpError } from './errors';

/**
 * The key that seals a route's secrets (SMTP passwords, Twilio tokens, webhook secrets). Without
 * HERALD_SECRET_KEY nothing secret is stored at all: 503 naming it, never plaintext in the database.
 */
export function sealingKey(c: Context<AppEnv>, what: string, code = 'not_configured'): Buffer {
  const key = c.var.deps.secretKey;
  if (!key) {
    throw new HttpError(
      503,
      code,
      `${what} need${what.endsWith('s') ? '' : 's'} HERALD_SECRET_KEY (32 bytes, base64 or hex) to be sealed; it is not set, and nothing is stored in plain text`,
      [{ path: 'HERALD_SECRET_KEY', message: 'not set' }],
    );
  }
  return key;
}
