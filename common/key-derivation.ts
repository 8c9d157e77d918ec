import { hkdfSync } from 'node:crypto';

/**
 * Each use of `HERALD_SECRET_KEY` gets its own key, derived with HKDF-SHA256, so a key that leaks
 * from one use (say, a signed link) tells nothing about the others (the sealed columns).
 */
export const KEY_PURPOSES = ['secret-box', 'ack-link', 'end-user-token', 'unsubscribe'] as const;
export type KeyPurpose = (typeof KEY_PURPOSES)[number];

const SALT = Buffer.from('herald/v1');

export function deriveKey(master: Buffer, purpose: KeyPurpose): Buffer {
  return Buffer.from(hkdfSync('sha256', master, SALT, `herald ${purpose}`, 32));
}
