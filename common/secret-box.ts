import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { deriveKey } from './key-derivation';

/**
 * Secrets at rest (webhook signing secrets, webhook URLs, and any other encrypted column):
 * AES-256-GCM under a key derived from the 32 bytes in `HERALD_SECRET_KEY` for this use alone (HKDF,
 * purpose `secret-box`). A sealed value is `v2:` + base64url(iv ‖ ciphertext ‖ tag), so a tampered or
 * foreign value fails to open instead of decrypting to garbage. `v1:` values, sealed under the raw
 * key before keys were derived, still open; the worker re-seals them at start.
 */
const VERSION = 'v2:';
/** Sealed under the raw `HERALD_SECRET_KEY` (before derived keys): opened, never written. */
const LEGACY_VERSION = 'v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/** The variable holding the key, named in every error about it. */
export const SECRET_KEY_VARIABLE = 'HERALD_SECRET_KEY';

/** Decodes a 32-byte key written as 64 hex digits or as base64 (standard or URL-safe); throws if it is neither. */
export function decodeSecretKey(raw: string): Buffer {
  const text = raw.trim();
  let key: Buffer | null = null;
  if (/^[0-9a-fA-F]{64}$/.test(text)) key = Buffer.from(text, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) key = Buffer.from(text, 'base64');
  if (!key || key.length !== KEY_BYTES) {
    throw new Error(
      `${SECRET_KEY_VARIABLE} must be ${KEY_BYTES} bytes written as 64 hex digits or as base64 ` +
        `(e.g. the output of \`openssl rand -base64 32\`)`,
    );
  }
  return key;
}

/** Whether `raw` is a usable key (for config schemas). */
export function isValidSecretKey(raw: string): boolean {
  try {
    decodeSecretKey(raw);
    return true;
  } catch {
    return false;
  }
}

/** The key when the variable is set, undefined when not; throws naming `HERALD_SECRET_KEY` when malformed. */
export function secretKeyIfSet(env: { [SECRET_KEY_VARIABLE]?: string | undefined }): Buffer | undefined {
  const raw = env[SECRET_KEY_VARIABLE];
  return raw ? decodeSecretKey(raw) : undefined;
}

/** Whether `value` is sealed the current way (else: legacy `v1:`, or not sealed at all). */
export const isCurrentlySealed = (value: string): boolean => value.startsWith(VERSION);

/** Whether `value` is sealed at all, the current way or the legacy one. */
export const isSealed = (value: string): boolean =>
  value.startsWith(VERSION) || value.startsWith(LEGACY_VERSION);

/**
 * Encrypts `plain` with a fresh random IV under the secret-box key derived from `masterKey`
 * (the decoded `HERALD_SECRET_KEY`); the result is safe to store in a text column.
 */
export function sealSecret(plain: string, masterKey: Buffer): string {
  assertKey(masterKey);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', deriveKey(masterKey, 'secret-box'), iv);
  const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return VERSION + Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString('base64url');
}

/**
 * Decrypts a value from {@link sealSecret} (or a legacy `v1:` one, under the raw key); throws if it
 * was sealed under another key or altered.
 */
export function openSecret(sealed: string, masterKey: Buffer): string {
  assertKey(masterKey);
  let key: Buffer;
  if (sealed.startsWith(VERSION)) key = deriveKey(masterKey, 'secret-box');
  else if (sealed.startsWith(LEGACY_VERSION)) key = masterKey;
  else throw new SecretBoxError('not a sealed secret (no v2: or v1: prefix)');
  const bytes = Buffer.from(sealed.slice(VERSION.length), 'base64url');
  if (bytes.length < IV_BYTES + TAG_BYTES) throw new SecretBoxError('sealed secret is truncated');
  const iv = bytes.subarray(0, IV_BYTES);
  const tag = bytes.subarray(bytes.length - TAG_BYTES);
  const ciphertext = bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
  } catch (error) {
    throw new SecretBoxError(
      `cannot decrypt a stored secret: it was sealed under another ${SECRET_KEY_VARIABLE} or altered`,
      { cause: error },
    );
  }
}

/** A stored secret that cannot be opened with the configured key. */
export class SecretBoxError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecretBoxError';
  }
}

function assertKey(key: Buffer): void {
  if (key.length !== KEY_BYTES) throw new Error(`${SECRET_KEY_VARIABLE} must be ${KEY_BYTES} bytes`);
}
