import type { Scope } from '../../common/api-keys';

/** Who is calling: a backend with an API key, or a person's own browser with an end-user token. */
export type Principal =
  | {
      kind: 'api_key';
      keyId: string;
      /** null for an operator key, which belongs to no tenant. */
      tenantId: string | null;
      scopes: readonly Scope[];
    }
  | {
      kind: 'end_user';
      tenantId: string;
      /** The recipient's externalId: the token opens this person's routes and nothing else. */
      recipientId: string;
      expiresAt: Date;
    };

/** The rate limiter's bucket: one per key, one per person for end-user tokens. */
export const rateLimitBucket = (p: Principal): string =>
  p.kind === 'api_key' ? p.keyId : `end-user:${p.tenantId}:${p.recipientId}`;
