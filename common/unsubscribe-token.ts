import { createHmac, timingSafeEqual } from 'node:crypto';
import { deriveKey } from './key-derivation';

/**
 * One-click unsubscribe tokens (RFC 8058): `<base>/v1/unsubscribe/<token>`, where the token is
 * base64url(version ‖ fields ‖ HMAC-SHA256(fields)) under the key derived from HERALD_SECRET_KEY for
 * unsubscribes alone. The fields are the tenant, whom it is for (a recipient's externalId, or a raw
 * address) and the event category. A token never expires: RFC 8058 links must keep working in old
 * mail, and all one can do with it is change that one person's mail of that one category.
 */

/** The layout of the token's bytes; a new layout takes a new version and keeps this one readable. */
const VERSION = 1;
const MAC_BYTES = 32;
/** Fields are joined by NUL, which no tenant id, externalId, address or category can contain. */
const SEPARATOR = '\u0000';
/** Longer than any genuine token (ids and categories are short); anything longer is refused unread. */
export const MAX_TOKEN_LENGTH = 1024;

/** Whom a token unsubscribes: a known recipient (preferences) or a raw address (the suppression list). */
export type UnsubscribeSubject =
  { kind: 'recipient'; externalId: string } | { kind: 'address'; address: string };

export interface UnsubscribeClaims {
  tenantId: string;
  subject: UnsubscribeSubject;
  category: string;
}

/** Where unsubscribe links point and the key that signs them. */
export interface UnsubscribeLinkSettings {
  baseUrl: string;
  key: Buffer;
}

/** The signing key of unsubscribe tokens, from the decoded HERALD_SECRET_KEY. */
export const unsubscribeKey = (masterKey: Buffer): Buffer => deriveKey(masterKey, 'unsubscribe');

const KIND_CODES = { recipient: 'r', address: 'a' } as const;

function payload(claims: UnsubscribeClaims): Buffer {
  const { subject } = claims;
  const who = subject.kind === 'recipient' ? subject.externalId : subject.address.toLowerCase();
  const fields = [claims.tenantId, KIND_CODES[subject.kind], who, claims.category];
  return Buffer.concat([Buffer.from([VERSION]), Buffer.from(fields.join(SEPARATOR), 'utf8')]);
}

const mac = (key: Buffer, bytes: Buffer): Buffer => createHmac('sha256', key).update(bytes).digest();

export function signUnsubscribeToken(key: Buffer, claims: UnsubscribeClaims): string {
  const bytes = payload(claims);
  return Buffer.concat([bytes, mac(key, bytes)]).toString('base64url');
}

/** The claims of a genuine token; null for anything else (tampered, foreign key, truncated, garbage). */
export function verifyUnsubscribeToken(key: Buffer, token: string): UnsubscribeClaims | null {
  if (token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) return null;
  const raw = Buffer.from(token, 'base64url');
  if (raw.length <= 1 + MAC_BYTES || raw[0] !== VERSION) return null;
  const bytes = raw.subarray(0, raw.length - MAC_BYTES);
  const given = raw.subarray(raw.length - MAC_BYTES);
  if (!timingSafeEqual(given, mac(key, bytes))) return null;
  const fields = bytes.subarray(1).toString('utf8').split(SEPARATOR);
  if (fields.length !== 4 || fields.some((f) => f === '')) return null;
  const [tenantId, kind, who, category] = fields as [string, string, string, string];
  if (kind === KIND_CODES.recipient)
    return { tenantId, subject: { kind: 'recipient', externalId: who }, category };
  if (kind === KIND_CODES.address) return { tenantId, subject: { kind: 'address', address: who }, category };
  return null;
}

/** The link for the `List-Unsubscribe` header and the layout's footer. */
export function unsubscribeUrl(settings: UnsubscribeLinkSettings, claims: UnsubscribeClaims): string {
  const base = settings.baseUrl.replace(/\/+$/, '');
  return `${base}/v1/unsubscribe/${signUnsubscribeToken(settings.key, claims)}`;
}

/** What decides whether one delivery's message carries an unsubscribe link, and for whom. */
export interface UnsubscribeLinkTarget {
  tenantId: string;
  channel: string;
  priority: string;
  /** The event's category; null: no manifest, nothing to unsubscribe from. */
  category: string | null;
  /** The manifest's `unsubscribe` (false: password resets, security alerts). */
  unsubscribable: boolean;
  externalId: string | null;
  address: string;
}

/**
 * The unsubscribe link of one delivery: email only, not for `critical` notifications (which ignore
 * opt-outs, so a link would promise what it cannot do) nor for events that may not be unsubscribed
 * from; none when the worker has no settings (PUBLIC_BASE_URL or HERALD_SECRET_KEY unset).
 */
export function deliveryUnsubscribeUrl(
  settings: UnsubscribeLinkSettings | undefined,
  target: UnsubscribeLinkTarget,
): string | undefined {
  if (!settings || target.channel !== 'email' || target.priority === 'critical') return undefined;
  if (!target.unsubscribable || target.category === null) return undefined;
  const subject: UnsubscribeSubject = target.externalId
    ? { kind: 'recipient', externalId: target.externalId }
    : { kind: 'address', address: target.address };
  if (subject.kind === 'address' && !subject.address) return undefined;
  return unsubscribeUrl(settings, { tenantId: target.tenantId, subject, category: target.category });
}
