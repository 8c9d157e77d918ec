import { createHash, randomBytes } from 'node:crypto';

/**
 * What a key may do. Tenant scopes open that tenant's routes; `critical` additionally allows
 * `priority: critical` (which overrides every person's opt-outs); `operator` opens schedules and
 * tenant management, belongs to no tenant, and only the CLI mints it.
 */
export const SCOPES = ['send', 'read', 'manage', 'admin', 'critical', 'operator'] as const;
export type Scope = (typeof SCOPES)[number];

/** The scopes of a tenant's first key (`herald tenants create`): everything but `critical` and `operator`. */
export const TENANT_SCOPES = ['send', 'read', 'manage', 'admin'] as const satisfies readonly Scope[];

/** Scopes a tenant key may carry; `operator` never. */
export const TENANT_KEY_SCOPES = [
  'send',
  'read',
  'manage',
  'admin',
  'critical',
] as const satisfies readonly Scope[];

export const isScope = (value: string): value is Scope => (SCOPES as readonly string[]).includes(value);

const KEY_PREFIX = 'hk_';
/** 32 random bytes: 256 bits, far past the 128 a guess would have to beat. */
const KEY_BYTES = 32;
const KEY_PATTERN = /^hk_[A-Za-z0-9_-]{43}$/;

/** A fresh key: `hk_` + 43 base64url characters. Shown once; only its hash is stored. */
export function generateApiKey(): string {
  return KEY_PREFIX + randomBytes(KEY_BYTES).toString('base64url');
}

/** Whether `value` has the shape of a key (so a malformed one is refused without a lookup). */
export const looksLikeApiKey = (value: string): boolean => KEY_PATTERN.test(value);

/**
 * The stored form. Plain SHA-256 suffices: the key is 256 random bits, so there is nothing to
 * brute-force, and no pepper means the CLI and every API process agree without sharing a secret.
 */
export const hashApiKey = (key: string): string => createHash('sha256').update(key).digest('hex');

/** What lists show so a person can tell keys apart: `hk_` and the first 8 characters. */
export const apiKeyPrefix = (key: string): string => key.slice(0, KEY_PREFIX.length + 8);
