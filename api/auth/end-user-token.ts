import { createHmac, timingSafeEqual } from 'node:crypto';
import { deriveKey } from '../../common/key-derivation';

/**
 * End-user tokens: what a person's own browser presents (inbox, live stream, preferences, push
 * subscriptions). `heu_<payload>.<signature>`: the payload names the tenant, the recipient and the
 * expiry; the HMAC-SHA256 signature is under a key derived from HERALD_SECRET_KEY. Stateless, so
 * every API process accepts them; they end by expiring.
 */
const PREFIX = 'heu_';

export interface EndUserClaims {
  tenantId: string;
  recipientId: string;
  expiresAt: Date;
}

const sign = (key: Buffer, payload: string) =>
  createHmac('sha256', key).update(`end-user:${payload}`).digest('base64url');

const derivedKeys = new WeakMap<Buffer, Buffer>();

/** The signing key, derived once per HERALD_SECRET_KEY (every request with a token needs it). */
export function endUserTokenKey(secretKey: Buffer): Buffer {
  let key = derivedKeys.get(secretKey);
  if (!key) {
    key = deriveKey(secretKey, 'end-user-token');
    derivedKeys.set(secretKey, key);
  }
  return key;
}

export function mintEndUserToken(key: Buffer, claims: EndUserClaims): string {
  const payload = Buffer.from(
    JSON.stringify({
      t: claims.tenantId,
      r: claims.recipientId,
      exp: Math.floor(claims.expiresAt.getTime() / 1000),
    }),
  ).toString('base64url');
  return `${PREFIX}${payload}.${sign(key, payload)}`;
}

export const looksLikeEndUserToken = (value: string): boolean => value.startsWith(PREFIX);

export type EndUserTokenCheck =
  { ok: true; claims: EndUserClaims } | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' };

export function verifyEndUserToken(key: Buffer, token: string, now: Date = new Date()): EndUserTokenCheck {
  if (!token.startsWith(PREFIX)) return { ok: false, reason: 'malformed' };
  const [payload, signature, extra] = token.slice(PREFIX.length).split('.');
  if (!payload || !signature || extra !== undefined) return { ok: false, reason: 'malformed' };
  const expected = Buffer.from(sign(key, payload));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'bad_signature' };
  }
  let parsed: { t?: unknown; r?: unknown; exp?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof parsed;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof parsed.t !== 'string' || typeof parsed.r !== 'string' || typeof parsed.exp !== 'number') {
    return { ok: false, reason: 'malformed' };
  }
  const expiresAt = new Date(parsed.exp * 1000);
  if (expiresAt.getTime() <= now.getTime()) return { ok: false, reason: 'expired' };
  return { ok: true, claims: { tenantId: parsed.t, recipientId: parsed.r, expiresAt } };
}
