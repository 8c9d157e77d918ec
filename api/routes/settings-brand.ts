import { OpenAPIHono, z } from '@hono/zod-openapi';
import { brandSettingsSchema, resolveBrand } from '../../common/settings/brand';
import { deleteTenantSetting, getTenantSetting, putTenantSetting } from '../../db/queries/tenant-settings';
import { securedRoute } from '../auth/access';
import type { AppEnv } from '../deps';
import { notFound } from '../errors';
import { errorResponse, jsonBody, jsonResponse } from '../schemas';

// Rebuilt with this module's z: common/ may load before zod-openapi adds .openapi to new schemas.
const BrandInputSchema = z
  .object(brandSettingsSchema.shape)
  .strict()
  .openapi('BrandSettingsInput', {
    example: {
      name: 'Acme Support',
      color: '#0b7a75',
      logoUrl: 'https://acme.example/logo.png',
      footer: 'Acme Ltd · support@acme.example',
      address: '12 Samora Machel Avenue\nHarare, Zimbabwe',
      defaultLocale: 'fr',
    },
  });

const BrandSchema = z
  .object({
    name: z.string().openapi({ example: 'Acme Support' }),
    color: z.string().openapi({ example: '#0b7a75', description: '#rrggbb: the header, buttons and links' }),
    logoUrl: z.string().nullable(),
    footer: z.string().nullable(),
    address: z.string().nullable(),
    defaultLocale: z.string().nullable().openapi({
      example: 'fr',
      description:
        'the language for raw addresses and for recipients without a locale, when the request names none',
    }),
    configured: z
      .boolean()
      .openapi({ description: "false: the tenant has set no brand; these are the operator's defaults" }),
    updatedAt: z.string().nullable(),
  })
  .openapi('BrandSettings');

const tags = ['settings'];

const getRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'get',
    path: '/v1/settings/brand',
    tags,
    summary: "The tenant's brand (the operator's defaults when it has none)",
    responses: { 200: jsonResponse(BrandSchema, 'The brand messages are rendered with') },
  },
);

const putRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'put',
    path: '/v1/settings/brand',
    tags,
    summary: "Set the tenant's brand: name, colour, logo, footer, postal address, default language",
    description:
      'Stored whole; fields left out take the defaults. The email layout shows the logo (or the name) in a header ' +
      'of `color`, which also colours buttons and links; `footer` and `address` go above the footer sentence, in the ' +
      'HTML and the text part. SMS and push templates may write `{{ brand.name }}`. `logoUrl` must be https. ' +
      '`defaultLocale` (BCP 47) picks the template language for raw addresses and recipients without a locale ' +
      'when the notification names none. Workers use the brand from their next batch.',
    request: { body: jsonBody(BrandInputSchema, 'The brand') },
    responses: {
      200: jsonResponse(BrandSchema, 'Stored'),
      400: errorResponse('Invalid field (a colour not #rrggbb, a logo URL not https…), naming it'),
    },
  },
);

const deleteRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'delete',
    path: '/v1/settings/brand',
    tags,
    summary: "Remove the tenant's brand: back to the operator's (BRAND_NAME)",
    responses: { 204: { description: 'Removed' }, 404: errorResponse('The tenant has no brand of its own') },
  },
);

export const brandSettingsRoutes = new OpenAPIHono<AppEnv>()
  .openapi(getRoute, async (c) => {
    const row = await getTenantSetting(c.var.deps.db, c.var.tenantId, 'brand');
    const brand = resolveBrand(row?.config, c.var.deps.config.BRAND_NAME);
    return c.json({ ...brand, configured: row !== null, updatedAt: row?.updatedAt ?? null }, 200);
  })
  .openapi(putRoute, async (c) => {
    const input = c.req.valid('json');
    const row = await putTenantSetting(c.var.deps.db, c.var.tenantId, 'brand', input, null);
    const brand = resolveBrand(row.config, c.var.deps.config.BRAND_NAME);
    return c.json({ ...brand, configured: true, updatedAt: row.updatedAt }, 200);
  })
  .openapi(deleteRoute, async (c) => {
    if (!(await deleteTenantSetting(c.var.deps.db, c.var.tenantId, 'brand')))
      throw notFound('brand settings');
    return c.body(null, 204);
  });
