import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signed acknowledgement links: `<base>/v1/notifications/<id>/ack-link?by=<recipient>&sig=<hmac>`, so a
 * person can acknowledge from the message itself. The signature (HMAC-SHA256 under
 * HERALD_SECRET_KEY) binds the notification and the recipient; nothing else is needed to trust it.
 */
export function signAck(key: Buffer, notificationId: string, by: string): string {
  return createHmac('sha256', key).update(`ack:${notificationId}:${by}`).digest('base64url').slice(0, 43);
}

export function verifyAck(key: Buffer, notificationId: string, by: string, signature: string): boolean {
  const expected = Buffer.from(signAck(key, notificationId, by));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function ackLink(baseUrl: string, key: Buffer, notificationId: string, by: string): string {
  const url = new URL(`/v1/notifications/${notificationId}/ack-link`, baseUrl);
  url.searchParams.set('by', by);
  url.searchParams.set('sig', signAck(key, notificationId, by));
  return url.toString();
}
