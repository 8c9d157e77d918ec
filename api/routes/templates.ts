import { OpenAPIHono, z } from '@hono/zod-openapi';
import { canonicalLocale, localeLabel } from '../../common/locale';
import { resolveBrand } from '../../common/settings/brand';
import { getTenantSetting } from '../../db/queries/tenant-settings';
import {
  countTenantTemplates,
  deleteTenantTemplates,
  getTenantTemplates,
  putTenantTemplate,
} from '../../db/queries/tenant-templates';
import { getTenantQuietHours } from '../../db/queries/tenants';
import { TemplateRenderError, type RenderContext, type TemplateRegistry } from '../../templates/registry';
import { securedRoute } from '../auth/access';
import type { ApiDeps, AppEnv } from '../deps';
import { HttpError, notFound, validationFailed } from '../errors';
import { errorResponse, identifier, jsonBody, jsonResponse } from '../schemas';
import {
  localeField,
  TemplateDetailSchema,
  TemplateListItemSchema,
  TemplateOverrideSchema,
  TenantPreviewRequestSchema,
  TenantPreviewSchema,
} from './template-schemas';

/** What one tenant may make every worker compile: rows are event × locale. */
const MAX_TEMPLATE_ROWS_PER_TENANT = 500;
/** The name of an event of a tenant's own. */
const CUSTOM_EVENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

const params = z.object({ event: identifier('event', 'ticket.assigned') });

const listRoute = securedRoute(
  { scope: 'read' },
  {
    method: 'get',
    path: '/v1/templates',
    tags: ['templates'],
    summary: 'The template catalogue: the built-in events and the tenant’s own',
    responses: {
      200: jsonResponse(z.object({ items: z.array(TemplateListItemSchema) }), 'Every template'),
    },
  },
);

const getRoute = securedRoute(
  { scope: 'read' },
  {
    method: 'get',
    path: '/v1/templates/{event}',
    tags: ['templates'],
    summary: "One template's manifest, and which of its variants are the tenant's and which built in",
    request: { params },
    responses: {
      200: jsonResponse(TemplateDetailSchema, 'The manifest and its variants per locale'),
      404: errorResponse('No such template'),
    },
  },
);

const putRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'put',
    path: '/v1/templates/{event}',
    tags: ['templates'],
    summary:
      "Store the tenant's own variants of an event (optionally for one locale), or add an event of its own",
    description:
      'The variants given replace the tenant’s earlier ones for that event and locale whole; those left out are the ' +
      'built-in ones. Everything is checked before anything is stored: MJML, Liquid syntax, variables not declared ' +
      'in the manifest (besides recipient, brand, notification, ackUrl, unsubscribeUrl) and a render of the ' +
      "manifest's sample; a problem is a 422 naming the variant (`variants.subject`) and the line, and the previous " +
      'version stays in force. Selection per recipient: along fr-CA → fr → default, the first locale with the ' +
      'variant, the tenant’s before the built-in one at each locale. An event not in the catalogue needs a `manifest` ' +
      '(the schema of manifest.yaml) and subject, mjml and text; it exists for this tenant only. Workers use the ' +
      'change from their next batch.',
    request: {
      params,
      body: jsonBody(TemplateOverrideSchema, 'The variants (and a manifest for an event of your own)'),
    },
    responses: {
      200: jsonResponse(TemplateDetailSchema, 'Stored; the template as the tenant now sees it'),
      400: errorResponse('Malformed body'),
      422: errorResponse(
        'A variant does not compile or reads an undeclared variable, naming it and the line',
      ),
    },
  },
);

const deleteRoute = securedRoute(
  { scope: 'manage' },
  {
    method: 'delete',
    path: '/v1/templates/{event}',
    tags: ['templates'],
    summary: "Remove the tenant's variants of an event: back to the built-in ones",
    description:
      'Without `locale`, every locale’s (an event of the tenant’s own is removed, as it is when its default ' +
      'locale is); with it, that locale’s only.',
    request: {
      params,
      query: z.object({
        locale: z
          .union([z.literal('default'), localeField])
          .optional()
          .openapi({ param: { name: 'locale', in: 'query' }, example: 'fr' }),
      }),
    },
    responses: {
      204: { description: 'Removed' },
      400: errorResponse('Malformed locale'),
      404: errorResponse('The tenant has no variants of this event (in this locale)'),
    },
  },
);

const previewRoute = securedRoute(
  { scope: 'read' },
  {
    method: 'post',
    path: '/v1/templates/{event}/preview',
    tags: ['templates'],
    summary: 'Render a template as the tenant’s recipients would get it, without sending',
    description:
      "With the tenant's variants and brand, in the locale asked for (fr-CA → fr → default; absent: the tenant " +
      'default), dates in `timezone`. Besides the email, the SMS, push and in-app variants the event has.',
    request: { params, body: jsonBody(TenantPreviewRequestSchema, 'Data to render with') },
    responses: {
      200: jsonResponse(TenantPreviewSchema, 'The rendered message'),
      400: errorResponse('Malformed request'),
      404: errorResponse('No such template'),
      422: errorResponse('Missing or mistyped variables'),
    },
  },
);

const allowLoopbackUrls = (deps: ApiDeps) => deps.config.HERALD_ALLOW_LOOPBACK_URLS === 'true';

const listItem = (templates: TemplateRegistry, event: string) => ({
  ...templates.manifest(event)!,
  builtIn: templates.isBuiltIn(event),
});

/** The template as the tenant sees it: its manifest, the origin of each variant, its own sources. */
async function detail(deps: ApiDeps, tenantId: string, templates: TemplateRegistry, event: string) {
  const description = templates.describe(event);
  if (!description) throw notFound(`template ${event}`);
  const rows = await getTenantTemplates(deps.db, tenantId, event);
  return {
    ...listItem(templates, event),
    locales: description.locales.map((l) => ({ locale: localeLabel(l.locale), variants: l.variants })),
    overrides: rows.map((r) => ({
      locale: localeLabel(r.locale),
      variants: r.variants,
      updatedAt: r.updatedAt,
    })),
  };
}

export const templateRoutes = new OpenAPIHono<AppEnv>()
  .openapi(listRoute, async (c) => {
    const templates = await c.var.deps.templates.forTenant(c.var.deps.db, c.var.tenantId);
    return c.json({ items: templates.events().map((e) => listItem(templates, e)) }, 200);
  })
  .openapi(getRoute, async (c) => {
    const { event } = c.req.valid('param');
    const templates = await c.var.deps.templates.forTenant(c.var.deps.db, c.var.tenantId);
    return c.json(await detail(c.var.deps, c.var.tenantId, templates, event), 200);
  })
  .openapi(putRoute, async (c) => {
    const { event } = c.req.valid('param');
    const { deps, tenantId } = c.var;
    const body = c.req.valid('json');
    const locale = body.locale === undefined ? '' : canonicalLocale(body.locale)!;
    const templates = await deps.templates.forTenant(deps.db, tenantId);
    if (!templates.has(event) && !CUSTOM_EVENT.test(event))
      throw validationFailed([
        { path: 'event', message: 'an event of your own is named with letters, digits, . _ - (at most 100)' },
      ]);
    const check = await templates.checkOverride(
      event,
      { locale, manifest: body.manifest, variants: body.variants },
      { allowLoopbackUrls: allowLoopbackUrls(deps) },
    );
    if (!check.ok) throw validationFailed(check.problems);
    const existing = await getTenantTemplates(deps.db, tenantId, event);
    if (
      !existing.some((r) => r.locale === locale) &&
      (await countTenantTemplates(deps.db, tenantId)) >= MAX_TEMPLATE_ROWS_PER_TENANT
    )
      throw validationFailed([
        {
          path: 'event',
          message: `at most ${MAX_TEMPLATE_ROWS_PER_TENANT} event × locale variants per tenant`,
        },
      ]);
    await putTenantTemplate(deps.db, {
      tenantId,
      event,
      locale,
      manifest: check.manifest,
      variants: body.variants,
    });
    const updated = await deps.templates.forTenant(deps.db, tenantId);
    return c.json(await detail(deps, tenantId, updated, event), 200);
  })
  .openapi(deleteRoute, async (c) => {
    const { event } = c.req.valid('param');
    const { deps, tenantId } = c.var;
    const query = c.req.valid('query');
    const templates = await deps.templates.forTenant(deps.db, tenantId);
    let locale =
      query.locale === undefined
        ? undefined
        : query.locale === 'default'
          ? ''
          : canonicalLocale(query.locale)!;
    // An event of the tenant's own does not outlive its default variants.
    if (locale === '' && templates.has(event) && !templates.isBuiltIn(event)) locale = undefined;
    const removed = await deleteTenantTemplates(deps.db, tenantId, event, locale);
    if (removed === 0)
      throw notFound(
        `variants of ${event}${locale === undefined ? '' : ` in locale ${localeLabel(locale)}`}`,
      );
    return c.body(null, 204);
  })
  .openapi(previewRoute, async (c) => {
    const { event } = c.req.valid('param');
    const { deps, tenantId } = c.var;
    const templates = await deps.templates.forTenant(deps.db, tenantId);
    const manifest = templates.manifest(event);
    if (!manifest) throw notFound(`template ${event}`);
    const body = c.req.valid('json');
    const data = body.data ?? manifest.sample;
    const problems = templates.checkData(event, data, { allowLoopbackUrls: allowLoopbackUrls(deps) });
    if (problems.length > 0)
      throw validationFailed(problems.map((p) => ({ path: `data.${p.variable}`, message: p.message })));
    const brand = resolveBrand(
      (await getTenantSetting(deps.db, tenantId, 'brand'))?.config,
      deps.config.BRAND_NAME,
    );
    const locale = (body.locale ? canonicalLocale(body.locale) : null) ?? brand.defaultLocale;
    const timezone = body.timezone ?? (await getTenantQuietHours(deps.db, tenantId)).timezone;
    const context: RenderContext = {
      data,
      recipient: {
        name: body.recipient?.name ?? 'Preview Recipient',
        email: body.recipient?.email ?? 'preview@example.com',
        externalId: null,
        locale,
        timezone,
      },
      brand,
      notification: { id: '00000000-0000-0000-0000-000000000000', event, priority: manifest.defaultPriority },
    };
    try {
      return c.json(
        {
          event,
          locale,
          email: templates.renderEmail(event, context),
          ...(templates.supports(event, 'sms') ? { sms: templates.renderSms(event, context) } : {}),
          ...(templates.supports(event, 'push') ? { push: templates.renderPush(event, context) } : {}),
          ...(templates.supports(event, 'inapp') ? { inapp: templates.renderInapp(event, context) } : {}),
        },
        200,
      );
    } catch (error) {
      if (error instanceof TemplateRenderError)
        throw new HttpError(422, error.code, error.message, [{ path: 'data', message: error.message }]);
      throw error;
    }
  });
