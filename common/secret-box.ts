import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Secrets at rest (webhook signing secrets, and any other encrypted column): AES-256-GCM under the
 * 32-byte key in `HERALD_SECRET_KEY`. A sealed value is `v1:` + base64url(iv ‖ ciphertext ‖ tag), so
 * a tampered or foreign value fails to open instead of decrypting to garbage.
 */

const VERSION = 'v1:';
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

/** The key from the environment; throws naming `HERALD_SECRET_KEY` when it is unset or malformed. */
export function parseSecretKey(env: { [SECRET_KEY_VARIABLE]?: string | undefined }): Buffer {
  const raw = env[SECRET_KEY_VARIABLE];
  if (!raw) throw new Error(`${SECRET_KEY_VARIABLE} is not set (32 bytes, base64 or hex)`);
  return decodeSecretKey(raw);
}

/** Encrypts `plain` with a fresh random IV; the result is safe to store in a text column. */
export function sealSecret(plain: string, key: Buffer): string {
  assertKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return VERSION + Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString('base64url');
}

/** Decrypts a value from {@link sealSecret}; throws if it was sealed under another key or altered. */
export function openSecret(sealed: string, key: Buffer): string {
  assertKey(key);
  if (!sealed.startsWith(VERSION)) throw new SecretBoxError('not a sealed secret (no v1: prefix)');
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
