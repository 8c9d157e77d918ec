import { createECDH } from 'node:crypto';
import { z } from 'zod';
import { blankAsUnset } from '../../../common/config';
import { base64urlOfLength } from '../../../common/p256-keys';
import { sharedSettings } from '../../../common/shared-settings';

const subject = z.string().refine((s) => /^mailto:[^@\s]+@[^@\s]+$/.test(s) || /^https:\/\/[^\s]+$/.test(s), {
  message: 'must be a mailto: address or an https: URL (e.g. mailto:ops@example.com)',
});

/**
 * The push channel's variables, parsed with the worker's configuration. Without all three VAPID
 * settings the channel is off; a value that is set must be well formed, or the worker does not start.
 */
export const pushSettings = {
  /** Also served by the API to browsers: its rule is shared. */
  VAPID_PUBLIC_KEY: sharedSettings.VAPID_PUBLIC_KEY,
  VAPID_PRIVATE_KEY: blankAsUnset(base64urlOfLength(32, 'the P-256 private key')),
  VAPID_SUBJECT: blankAsUnset(subject),
  /** How long a push service may stay silent before the send counts as a temporary failure. */
  PUSH_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /** Deliveries in flight at once (each may post to several subscriptions). */
  PUSH_CONCURRENCY: z.coerce.number().int().min(1).max(200).default(10),
};

/** The check across the VAPID settings: the private key must be the public key's other half. */
export function checkVapidPair(
  settings: { VAPID_PUBLIC_KEY?: string; VAPID_PRIVATE_KEY?: string },
  ctx: z.RefinementCtx,
): void {
  const { VAPID_PUBLIC_KEY: publicKey, VAPID_PRIVATE_KEY: privateKey } = settings;
  if (publicKey && privateKey && !matchesPublicKey(privateKey, publicKey))
    ctx.addIssue({
      code: 'custom',
      path: ['VAPID_PRIVATE_KEY'],
      message: 'is not the private half of VAPID_PUBLIC_KEY',
    });
}

function matchesPublicKey(privateKey: string, publicKey: string): boolean {
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(privateKey, 'base64url'));
    return ecdh.getPublicKey().equals(Buffer.from(publicKey, 'base64url'));
  } catch {
    return false;
  }
}
