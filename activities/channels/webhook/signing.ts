import { createHash, createHmac, randomBytes } from 'node:crypto';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): `whsec_` secrets (base64 after the
 * prefix, 24 to 64 bytes), and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
 */

export const SECRET_PREFIX = 'whsec_';
export const MIN_SECRET_BYTES = 24;
export const MAX_SECRET_BYTES = 64;
const GENERATED_SECRET_BYTES = 32;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A fresh secret of 32 random bytes. */
export function generateWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(GENERATED_SECRET_BYTES).toString('base64');
}

/** Why `secret` is not a usable signing secret, or null when it is. */
export function webhookSecretProblem(secret: string): string | null {
  if (!secret.startsWith(SECRET_PREFIX)) return `must start with ${SECRET_PREFIX}`;
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (!BASE64.test(encoded)) return `must be ${SECRET_PREFIX} followed by base64`;
  const bytes = Buffer.from(encoded, 'base64').length;
  if (bytes < MIN_SECRET_BYTES)
    return `must hold at least ${MIN_SECRET_BYTES} bytes after ${SECRET_PREFIX} (base64-decoded), got ${bytes}`;
  if (bytes > MAX_SECRET_BYTES)
    return `must hold at most ${MAX_SECRET_BYTES} bytes after ${SECRET_PREFIX} (base64-decoded), got ${bytes}`;
  return null;
}

/** How a secret is shown after it was created: the prefix and its last four characters. */
export const maskWebhookSecret = (secret: string): string => `${SECRET_PREFIX}…${secret.slice(-4)}`;

/**
 * The `webhook-id` of a delivery: derived from notification × recipient only, so every retry of the
 * same delivery carries the same id and receivers can drop duplicates.
 */
export function webhookMessageId(notificationId: string, recipientKey: string): string {
  return `msg_${createHash('sha256').update(`${notificationId}:${recipientKey}`).digest('hex').slice(0, 32)}`;
}

/** `v1,<signature>` for each secret, newest first, space-separated: the `webhook-signature` header. */
export function signWebhook(id: string, timestampSeconds: number, body: string, secrets: string[]): string {
  if (secrets.length === 0) throw new Error('no signing secret');
  const signed = `${id}.${timestampSeconds}.${body}`;
  return secrets
    .map((secret) => {
      const key = Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
      return `v1,${createHmac('sha256', key).update(signed, 'utf8').digest('base64')}`;
    })
    .join(' ');
}
