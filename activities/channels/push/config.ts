import { createECDH, ECDH } from 'node:crypto';
import { z } from 'zod';
import { parseEnv } from '../../../common/config';

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** A base64url (unpadded, as browsers and web-push write it) value of exactly `bytes` bytes. */
export const base64urlOfLength = (bytes: number, what: string) =>
  z
    .string()
    .regex(BASE64URL, `must be base64url (A-Z a-z 0-9 - _, no padding): ${what}`)
    .refine((s) => Buffer.from(s, 'base64url').length === bytes, `must decode to ${bytes} bytes: ${what}`);

/** Whether `point` (65 bytes, 0x04‖x‖y) is a point on P-256, as a browser's p256dh key must be. */
export function isP256Point(point: Buffer): boolean {
  if (point.length !== 65 || point[0] !== 0x04) return false;
  try {
    ECDH.convertKey(point, 'prime256v1');
    return true;
  } catch {
    return false;
  }
}

const subject = z.string().refine((s) => /^mailto:[^@\s]+@[^@\s]+$/.test(s) || /^https:\/\/[^\s]+$/.test(s), {
  message: 'must be a mailto: address or an https: URL (e.g. mailto:ops@example.com)',
});

const schema = z
  .object({
    VAPID_PUBLIC_KEY: base64urlOfLength(65, 'the uncompressed P-256 public key').refine(
      (s) => isP256Point(Buffer.from(s, 'base64url')),
      'is not a P-256 public key (web-push generate-vapid-keys makes a pair)',
    ),
    VAPID_PRIVATE_KEY: base64urlOfLength(32, 'the P-256 private key'),
    VAPID_SUBJECT: subject,
    /** Development only: push endpoints on loopback addresses, over http too. */
    HERALD_ALLOW_LOOPBACK_URLS: z.enum(['true', 'false']).default('false'),
    /** How long a push service may stay silent before the send counts as a temporary failure. */
    PUSH_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
    /** Deliveries in flight at once (each may post to several subscriptions). */
    PUSH_CONCURRENCY: z.coerce.number().int().min(1).max(200).default(10),
  })
  .superRefine((env, ctx) => {
    if (!matchesPublicKey(env.VAPID_PRIVATE_KEY, env.VAPID_PUBLIC_KEY))
      ctx.addIssue({
        code: 'custom',
        path: ['VAPID_PRIVATE_KEY'],
        message: 'is not the private half of VAPID_PUBLIC_KEY',
      });
  });

function matchesPublicKey(privateKey: string, publicKey: string): boolean {
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(privateKey, 'base64url'));
    return ecdh.getPublicKey().equals(Buffer.from(publicKey, 'base64url'));
  } catch {
    return false;
  }
}

export type PushConfig = z.infer<typeof schema>;

/** The push channel's settings; throws naming every bad variable (keys that do not form a pair, too). */
export function loadPushConfig(env: NodeJS.ProcessEnv): PushConfig {
  return parseEnv(schema, env, 'push channel');
}
