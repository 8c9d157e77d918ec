import { z } from '@hono/zod-openapi';
import { SCOPES, TENANT_KEY_SCOPES } from '../../common/api-keys';

export const ApiKeySchema = z
  .object({
    id: z.string().openapi({ example: 'key_3f9c0a…' }),
    name: z.string(),
    prefix: z
      .string()
      .openapi({ example: 'hk_AbCdEfGh', description: 'The first characters, to tell keys apart' }),
    scopes: z.array(z.enum(SCOPES)),
    createdAt: z.string(),
    lastUsedAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
  })
  .openapi('ApiKey');

export const CreatedApiKeySchema = ApiKeySchema.extend({
  key: z
    .string()
    .openapi({ example: 'hk_…', description: 'The key itself: shown this once, stored only as a hash' }),
}).openapi('CreatedApiKey');

const label = z
  .string()
  .min(1)
  .max(200)
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  .refine((s) => !/[\u0000-\u001f]/.test(s), 'must not contain control characters');

export const ApiKeyRequestSchema = z
  .object({
    name: label.optional(),
    scopes: z
      .array(z.enum(TENANT_KEY_SCOPES))
      .min(1)
      .openapi({ example: ['send', 'read'], description: 'At most the scopes of the key that creates it' }),
  })
  .strict()
  .openapi('ApiKeyRequest');

export const TenantIdSchema = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_-]{0,62}$/,
    'lowercase letters, digits, - and _, at most 63, starting with a letter or digit',
  );

export const TenantSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    createdAt: z.string(),
    activeKeys: z.number().int(),
    dailyQuotas: z.record(z.string(), z.number().int()),
  })
  .openapi('Tenant');

export const TenantRequestSchema = z
  .object({ id: TenantIdSchema, name: label.optional() })
  .strict()
  .openapi('TenantRequest');

export const CreatedTenantSchema = z
  .object({
    tenant: z.string(),
    key: z.string().openapi({ description: "The tenant's first key: shown this once" }),
    keyId: z.string(),
    scopes: z.array(z.enum(SCOPES)),
  })
  .openapi('CreatedTenant');

export const EndUserTokenSchema = z
  .object({
    token: z.string().openapi({ example: 'heu_…' }),
    expiresAt: z.string(),
    centerUrl: z.string().openapi({
      example: 'https://herald.example.com/app#token=heu_…',
      description:
        "Opens this person's notification center; the token rides in the fragment, which browsers send to no server",
    }),
  })
  .openapi('EndUserToken');
