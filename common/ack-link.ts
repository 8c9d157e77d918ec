import { createHmac, timingSafeEqual } from 'node:crypto';
import { deriveKey } from './key-derivation';

/**
 * Signed acknowledgement links: `<base>/v1/notifications/<id>/ack-link?by=<recipient>&exp=<unix s>&sig=<hmac>`,
 * so a person can acknowledge from the message itself. The signature (HMAC-SHA256 under the key
 * derived from HERALD_SECRET_KEY for ack links alone) binds the notification, the recipient and the
 * expiry; nothing else is needed to trust it. A link forwarded or leaked stops working at `exp`.
 */

/** How long a link works when ACK_LINK_TTL_SECONDS does not say. */
export const DEFAULT_ACK_LINK_TTL_SECONDS = 7 * 86_400;

/** Where links point, the key that signs them, and how long they work. */
export interface AckLinkSettings {
  baseUrl: string;
  key: Buffer;
  ttlSeconds?: number;
}

/** The signing key of ack links, from the decoded HERALD_SECRET_KEY. */
export const ackLinkKey = (masterKey: Buffer): Buffer => deriveKey(masterKey, 'ack-link');

export function signAck(key: Buffer, notificationId: string, by: string, exp: number): string {
  return createHmac('sha256', key)
    .update(`ack:${notificationId}:${by}:${exp}`)
    .digest('base64url')
    .slice(0, 43);
}

export type AckCheck = { ok: true } | { ok: false; reason: 'invalid' | 'expired' };

/** Checks the signature first (so only a genuine link learns that it expired), then the expiry. */
export function verifyAck(
  key: Buffer,
  link: { notificationId: string; by: string; exp: string; sig: string },
  now: number = Date.now(),
): AckCheck {
  if (!link.by || !/^\d{1,12}$/.test(link.exp)) return { ok: false, reason: 'invalid' };
  const exp = Number(link.exp);
  const expected = Buffer.from(signAck(key, link.notificationId, link.by, exp));
  const given = Buffer.from(link.sig);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'invalid' };
  return exp * 1000 < now ? { ok: false, reason: 'expired' } : { ok: true };
}

export function ackLink(
  baseUrl: string,
  key: Buffer,
  notificationId: string,
  by: string,
  options: { ttlSeconds?: number; now?: number } = {},
): string {
  const ttl = options.ttlSeconds ?? DEFAULT_ACK_LINK_TTL_SECONDS;
  const exp = Math.floor((options.now ?? Date.now()) / 1000) + ttl;
  const url = new URL(`/v1/notifications/${notificationId}/ack-link`, baseUrl);
  url.searchParams.set('by', by);
  url.searchParams.set('exp', String(exp));
  url.searchParams.set('sig', signAck(key, notificationId, by, exp));
  return url.toString();
}
