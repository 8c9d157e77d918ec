import { ECDH } from 'node:crypto';
import { z } from 'zod';

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** A base64url (unpadded, as browsers and web-push write it) value of exactly `bytes` bytes. */
export const base64urlOfLength = (bytes: number, what: string) =>
  z
    .string()
    .regex(BASE64URL, `must be base64url (A-Z a-z 0-9 - _, no padding): ${what}`)
    .refine((s) => Buffer.from(s, 'base64url').length === bytes, `must decode to ${bytes} bytes: ${what}`);

/**
 * Whether `point` (65 bytes, 0x04‖x‖y) is a point on P-256: what a browser's p256dh key and a VAPID
 * public key must both be.
 */
export function isP256Point(point: Buffer): boolean {
  if (point.length !== 65 || point[0] !== 0x04) return false;
  try {
    ECDH.convertKey(point, 'prime256v1');
    return true;
  } catch {
    return false;
  }
}

/** VAPID_PUBLIC_KEY's value: the API serves it to browsers, the worker signs pushes with its pair. */
export const vapidPublicKeyText = base64urlOfLength(65, 'the uncompressed P-256 public key').refine(
  (s) => isP256Point(Buffer.from(s, 'base64url')),
  'is not a P-256 public key (web-push generate-vapid-keys makes a pair)',
);
